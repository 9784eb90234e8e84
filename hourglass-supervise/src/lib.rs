//! OTP-style supervision for tokio.
