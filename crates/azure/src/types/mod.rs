//! Serde wire types mirroring the ARM reference shapes. Unknown fields are ignored; every
//! field a response may omit is optional.

pub mod arm;
pub mod deployment;
pub mod gallery;
pub mod image_template;
pub mod platform_image;
pub mod resources;

pub use arm::*;
pub use deployment::*;
pub use gallery::*;
pub use image_template::*;
pub use platform_image::*;
pub use resources::*;
