//! Recording policies (world `recording-policy`, feature `recording`):
//! whether to record a call, from when, the notice to play first (R-REC-2)
//! and how long to keep it.

use alloc::string::String;

use serde::de::DeserializeOwned;

use crate::types::{CallFacts, RecordFrom, RecordingDecision};

/// The usual Japanese recording notice.
pub const DEFAULT_NOTICE_JA: &str = "この通話は、サービス向上のため録音させていただきます。";

/// Record from answer with [`DEFAULT_NOTICE_JA`], kept `retention_days`.
pub fn record_all(retention_days: u32) -> RecordingDecision {
    RecordingDecision {
        record: true,
        from: RecordFrom::Answer,
        notice: alloc::vec![crate::prompt::text(DEFAULT_NOTICE_JA)],
        retention_days,
    }
}

/// A recording policy. Every method has a default (record everything from
/// answer with the default notice, kept until deleted).
pub trait RecordingPolicy {
    /// The policy's configuration, parsed from JSON.
    type Config: DeserializeOwned;

    /// Check a parsed configuration at upload.
    fn validate(_config: &Self::Config) -> Result<(), String> {
        Ok(())
    }
    /// Whether and how to record this call.
    fn decide(_config: &Self::Config, _facts: &CallFacts) -> Result<RecordingDecision, String> {
        Ok(record_all(0))
    }
}

/// `validate-config` for policy `P`.
pub fn validate<P: RecordingPolicy>(config: &str) -> Result<(), String> {
    P::validate(&crate::parse_config(config)?)
}

/// `decide` for policy `P`.
pub fn decide<P: RecordingPolicy>(
    config: &str,
    facts: &CallFacts,
) -> Result<RecordingDecision, String> {
    P::decide(&crate::parse_config(config)?, facts)
}

/// Export a type implementing [`RecordingPolicy`] as this component's
/// `recording-policy` world.
#[macro_export]
macro_rules! export_recording_policy {
    ($ty:ty) => {
        #[doc(hidden)]
        pub struct __MadoguchiRecordingExport;
        impl $crate::bindings::recording::exports::madoguchi::ivr::recording_api::Guest for __MadoguchiRecordingExport {
            fn validate_config(config: $crate::__rt::String) -> $crate::__rt::Result<(), $crate::__rt::String> {
                $crate::recording::validate::<$ty>(&config)
            }
            fn decide(
                config: $crate::__rt::String,
                facts: $crate::types::CallFacts,
            ) -> $crate::__rt::Result<$crate::types::RecordingDecision, $crate::__rt::String> {
                $crate::recording::decide::<$ty>(&config, &facts)
            }
        }
        $crate::bindings::recording::__export_recording_policy!(__MadoguchiRecordingExport with_types_in $crate::bindings::recording);
    };
}
