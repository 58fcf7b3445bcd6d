//! Type inference: each column's `sourceFields` type, from its values,
//! with the validator's own value checks.
