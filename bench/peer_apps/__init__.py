"""The servers `bench.peers` measures this service against: the shipped checkpoint served the way a user
would otherwise serve it (a plain FastAPI endpoint, LitServe, BentoML), each through `PeerModel`."""
