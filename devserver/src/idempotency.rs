//! `Idempotency-Key` replay (stub).
