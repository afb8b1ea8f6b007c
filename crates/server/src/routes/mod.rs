//! One module per area of the API.

pub mod checkins;
pub mod declarations;
pub mod dependants;
pub mod evidence;
pub mod exposure;
pub mod gate;
pub mod health;
pub mod imports;
pub mod passes;
pub mod residents;
pub mod trust;
pub mod venues;
pub mod verify;
