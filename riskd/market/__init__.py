"""Shared market data: what the feed's readers and streams bring in, how it merges, where it
is kept (the gateway's cache, the kline store), and who reads what and when."""
