"""Request-level infrastructure below the apps: request ids, client address, rate limiting,
database-error mapping, security headers, the request edge, prepared queries. Imports no app."""
