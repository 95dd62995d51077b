"""Exports: the store, as one organisation may see it, in the formats the field speaks.

`service.export()` is the one entry point (API and CLI); `repository` reads
the store in primary-key pages through the access policy; each format module
turns pages into bytes, so that an export of any size streams in flat memory.
"""
