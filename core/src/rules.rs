//! Request rules (to be written).
