//! What the simulator does: each module answers the requests of one service (ARM resource
//! providers under [`arm`], Blob storage, the token endpoints, Key Vault) on the [`State`]
//! and [`Ctx`] it is given, and [`tick`] moves time-driven resources on.

pub mod arm;
pub mod auth;
pub mod blob;
pub mod customization_log;
pub mod federated;
pub mod key_vault;

use crate::context::Ctx;
use crate::state::State;

/// Bring every time-driven resource up to `now` (simulated minutes).
pub fn tick(ctx: &Ctx, st: &mut State, now: f64) {
    arm::image_templates::tick(ctx, st, now);
    arm::gallery::tick(ctx, st, now);
    arm::resources::tick(ctx, st, now);
}
