//! Defender for Endpoint's missing-KB API over a kbgap store.
