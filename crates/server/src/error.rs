//! The HTTP layer's errors are the admin API's: one type, one JSON shape.

pub use latchkey_admin::error::{ApiError, ErrorBody};
