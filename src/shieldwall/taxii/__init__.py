"""TAXII 2.1: the server under /taxii2/ and the client that pulls from other servers."""
