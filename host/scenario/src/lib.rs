//! IVR scenarios: the document model, its validation, and versioned storage.
#![forbid(unsafe_code)]
