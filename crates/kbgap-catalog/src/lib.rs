//! MSRC CVRF documents: streaming reader, bundled offline copy, and sync from the MSRC API.
