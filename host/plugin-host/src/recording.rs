//! Recording policy fallback: when the policy plugin fails, record — with
//! the default notice — rather than lose a recording the policy may have
//! wanted (R-REC-2 requires the notice before any recording).

use crate::bindings::types::{CallFacts, Prompt, RecordFrom, RecordingDecision};
use crate::error::PluginError;
use crate::plugin::Plugin;
use crate::state::CallContext;

/// The notice played when the policy could not be asked.
pub const DEFAULT_NOTICE_JA: &str = "この通話は、サービス向上のため録音させていただきます。";

/// How long a fallback recording is kept, in days.
pub const FALLBACK_RETENTION_DAYS: u32 = 90;

/// "Record from answer, with the default notice."
pub fn fallback_decision() -> RecordingDecision {
    RecordingDecision {
        record: true,
        from: RecordFrom::Answer,
        notice: vec![Prompt::Text(DEFAULT_NOTICE_JA.into())],
        retention_days: FALLBACK_RETENTION_DAYS,
    }
}

/// Ask the policy; on any failure use [`fallback_decision`] and hand back
/// the error for logging.
pub fn decide_or_fallback(
    policy: &Plugin,
    ctx: &CallContext,
    config: &str,
    facts: &CallFacts,
) -> (RecordingDecision, Option<PluginError>) {
    match policy.decide_recording(ctx, config, facts) {
        Ok(d) => (d, None),
        Err(e) => {
            tracing::warn!(
                plugin = policy.name(),
                call_id = ctx.call_id,
                "recording policy failed, recording with the default notice: {e}"
            );
            (fallback_decision(), Some(e))
        }
    }
}
