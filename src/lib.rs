//! lamina: an FDM slicer, G-code generator and printer streamer for anatomical models.
//!
//! Hospital 3D labs print skulls, brains, spines and hollow vessels from CT/MRI
//! segmentations. lamina takes their meshes (large, often broken) through every stage
//! of the pipeline:
//!
//! ```text
//!  file --> mesh --> slice --> layer --> plan --> gcode --> file or serial
//! ```
//!
//! Each stage is a module with plain data in and out; files, terminals and serial
//! ports are touched only at the edges (the `lamina` binary, [`mesh::io`]).

pub mod audit;
pub mod fill;
pub mod gcode;
pub mod geom;
pub mod input;
pub mod layer;
pub mod mesh;
pub mod orient;
pub mod output;
pub mod path;
pub mod pipeline;
pub mod plan;
pub mod preview;
pub mod profile;
pub mod serial;
pub mod slice;
pub mod support;
pub mod timing;
pub mod vessel;
