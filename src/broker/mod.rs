//! The edge broker: `createBroker(options)` and `mintUploadTicket(secret,
//! claims)`. Compiled only with the `broker` feature (on by default; the
//! package's browser build leaves it out).
