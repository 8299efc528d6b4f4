//! Schedules (world `schedule`, feature `schedule`): is a destination open
//! at a given local time, and when does it next open.

use alloc::string::String;

use serde::de::DeserializeOwned;

use crate::types::{LocalDatetime, ScheduleAnswer, ScheduleStatus};

/// A schedule. Every method has a default (always open).
pub trait Schedule {
    /// The schedule's configuration, parsed from JSON.
    type Config: DeserializeOwned;

    /// Check a parsed configuration at upload.
    fn validate(_config: &Self::Config) -> Result<(), String> {
        Ok(())
    }
    /// Is `destination` open at local time `at`?
    fn check(
        _config: &Self::Config,
        _destination: &str,
        _at: LocalDatetime,
    ) -> Result<ScheduleAnswer, String> {
        Ok(ScheduleAnswer {
            status: ScheduleStatus::Open,
            next_open: None,
        })
    }
}

/// `validate-config` for schedule `S`.
pub fn validate<S: Schedule>(config: &str) -> Result<(), String> {
    S::validate(&crate::parse_config(config)?)
}

/// `check` for schedule `S`.
pub fn check<S: Schedule>(
    config: &str,
    destination: &str,
    at: LocalDatetime,
) -> Result<ScheduleAnswer, String> {
    S::check(&crate::parse_config(config)?, destination, at)
}

/// Export a type implementing [`Schedule`] as this component's `schedule` world.
#[macro_export]
macro_rules! export_schedule {
    ($ty:ty) => {
        #[doc(hidden)]
        pub struct __MadoguchiScheduleExport;
        impl $crate::bindings::schedule::exports::madoguchi::ivr::schedule_api::Guest for __MadoguchiScheduleExport {
            fn validate_config(config: $crate::__rt::String) -> $crate::__rt::Result<(), $crate::__rt::String> {
                $crate::schedule::validate::<$ty>(&config)
            }
            fn check(
                config: $crate::__rt::String,
                destination: $crate::__rt::String,
                at: $crate::types::LocalDatetime,
            ) -> $crate::__rt::Result<$crate::types::ScheduleAnswer, $crate::__rt::String> {
                $crate::schedule::check::<$ty>(&config, &destination, at)
            }
        }
        $crate::bindings::schedule::__export_schedule!(__MadoguchiScheduleExport with_types_in $crate::bindings::schedule);
    };
}
