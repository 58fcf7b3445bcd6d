//! Per-token rate limit (stub).
use crate::config::RateLimit;
/// Rate limiter.
#[derive(Debug)]
pub struct RateLimiter {}
impl RateLimiter {
    /// A limiter; `None` never limits.
    pub fn new(_limit: Option<RateLimit>) -> Self {
        RateLimiter {}
    }
}
