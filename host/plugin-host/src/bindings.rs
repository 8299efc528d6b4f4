//! Host bindings generated from `wit/` (package `madoguchi:ivr@0.1.0`).
//!
//! One `bindgen!` per world; the schedule and recording-policy worlds reuse
//! the node world's shared interfaces (`types`, `clock`, `log`) so the host
//! has one Rust type per WIT type.

/// The `ivr-node` world: also the home of the shared interfaces.
pub mod node {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "madoguchi:ivr/ivr-node",
        additional_derives: [PartialEq, Eq],
    });
}

/// The `schedule` world.
pub mod schedule {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "madoguchi:ivr/schedule",
        with: {
            "madoguchi:ivr/types": crate::bindings::node::madoguchi::ivr::types,
            "madoguchi:ivr/clock": crate::bindings::node::madoguchi::ivr::clock,
            "madoguchi:ivr/log": crate::bindings::node::madoguchi::ivr::log,
        },
    });
}

/// The `recording-policy` world.
pub mod recording {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "madoguchi:ivr/recording-policy",
        with: {
            "madoguchi:ivr/types": crate::bindings::node::madoguchi::ivr::types,
            "madoguchi:ivr/clock": crate::bindings::node::madoguchi::ivr::clock,
            "madoguchi:ivr/log": crate::bindings::node::madoguchi::ivr::log,
        },
    });
}

pub use node::madoguchi::ivr::{clock, log, schedules, types};
