"""Membership governance: sponsored applications, consensus by silence procedure, the signed ledger.

model.py       the vocabulary (decision kinds, statuses, vote choices, ledger acts)
clock.py       the injectable clock every deadline is read from
settings.py    the governance settings (sponsors required, decision period, ledger key)
access.py      who may act and read in governance (the intel policy stays in sharing/)
ledger.py      canonical entries, hash chain, Ed25519 signatures, verification
keys.py        each organisation's signing key: sealed at rest, registered, rotated, exported
service.py     the rules; never commits
scheduler.py   the tick that closes due decisions, and the background ticker
repository.py  all governance SQL
"""
