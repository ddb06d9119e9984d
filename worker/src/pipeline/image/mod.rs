//! Image work without models, each step bit-exact with the OpenCV-based reference:
//! [`decode`] (sniff, header limits, libjpeg-turbo / `image`, EXIF orientation),
//! [`encode`] (no metadata), the `cv2` kernels in [`cv`] (resize, warp, blur, erode),
//! face [`align`]ment, and [`paste`]-back with each face's soft mask (`mask`).

pub mod align;
pub mod cv;
pub mod decode;
pub mod encode;
mod mask;
pub mod paste;
mod turbo;
