//! Guest bindings generated from `wit/` by `wit-bindgen`.
//!
//! `base` holds the shared types and the host imports (a world with no
//! exports, so it adds nothing to a component but what a plugin calls).
//! Each plugin world is behind its feature, so a plugin exports exactly the
//! world it enables.

/// Shared types and host imports.
pub mod base {
    wit_bindgen::generate!({
        path: "../../wit",
        inline: "
            package madoguchi:sdk;
            world base {
                import madoguchi:ivr/types@0.1.0;
                import madoguchi:ivr/clock@0.1.0;
                import madoguchi:ivr/log@0.1.0;
                import madoguchi:ivr/schedules@0.1.0;
            }
        ",
        world: "madoguchi:sdk/base",
        generate_all,
        additional_derives: [PartialEq, Eq],
    });
}

/// The `ivr-node` world.
#[cfg(feature = "node")]
pub mod node {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "madoguchi:ivr/ivr-node",
        with: {
            "madoguchi:ivr/types@0.1.0": crate::bindings::base::madoguchi::ivr::types,
            "madoguchi:ivr/clock@0.1.0": crate::bindings::base::madoguchi::ivr::clock,
            "madoguchi:ivr/log@0.1.0": crate::bindings::base::madoguchi::ivr::log,
            "madoguchi:ivr/schedules@0.1.0": crate::bindings::base::madoguchi::ivr::schedules,
        },
        pub_export_macro: true,
        export_macro_name: "__export_ivr_node",
        default_bindings_module: "madoguchi_sdk::bindings::node",
    });
}

/// The `schedule` world.
#[cfg(feature = "schedule")]
pub mod schedule {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "madoguchi:ivr/schedule",
        with: {
            "madoguchi:ivr/types@0.1.0": crate::bindings::base::madoguchi::ivr::types,
            "madoguchi:ivr/clock@0.1.0": crate::bindings::base::madoguchi::ivr::clock,
            "madoguchi:ivr/log@0.1.0": crate::bindings::base::madoguchi::ivr::log,
        },
        pub_export_macro: true,
        export_macro_name: "__export_schedule",
        default_bindings_module: "madoguchi_sdk::bindings::schedule",
    });
}

/// The `recording-policy` world.
#[cfg(feature = "recording")]
pub mod recording {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "madoguchi:ivr/recording-policy",
        with: {
            "madoguchi:ivr/types@0.1.0": crate::bindings::base::madoguchi::ivr::types,
            "madoguchi:ivr/clock@0.1.0": crate::bindings::base::madoguchi::ivr::clock,
            "madoguchi:ivr/log@0.1.0": crate::bindings::base::madoguchi::ivr::log,
        },
        pub_export_macro: true,
        export_macro_name: "__export_recording_policy",
        default_bindings_module: "madoguchi_sdk::bindings::recording",
    });
}
