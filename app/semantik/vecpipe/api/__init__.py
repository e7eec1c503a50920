"""vecpipe's HTTP API: routers, the auth dependency and error mapping."""
