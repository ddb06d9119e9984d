//! One owned TurboJPEG 3 handle (libjpeg-turbo, the library OpenCV reads and writes JPEG
//! with), shared by the JPEG decoder and encoder. The unsafe surface of both is here and
//! in their single `tj3Decompress8` / `tj3Compress8` calls.
#![allow(unsafe_code)]

use std::ffi::CStr;
use turbojpeg_sys as tj;

pub use tj::TJPARAM;

/// Compression or decompression, as `tj3Init` takes it.
#[derive(Debug, Clone, Copy)]
pub enum Direction {
    Compress,
    Decompress,
}

/// A TurboJPEG handle, destroyed on drop.
pub struct Handle(tj::tjhandle);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the pointer came from tj3Init, is non-null and is destroyed once.
        unsafe { tj::tj3Destroy(self.0) }
    }
}

impl Handle {
    /// `None` when libjpeg-turbo cannot allocate one.
    pub fn new(direction: Direction) -> Option<Self> {
        let init = match direction {
            Direction::Compress => tj::TJINIT_TJINIT_COMPRESS,
            Direction::Decompress => tj::TJINIT_TJINIT_DECOMPRESS,
        };
        // SAFETY: tj3Init has no preconditions; a null return is handled.
        let ptr = unsafe { tj::tj3Init(init as i32) };
        (!ptr.is_null()).then_some(Self(ptr))
    }

    pub fn raw(&self) -> tj::tjhandle {
        self.0
    }

    /// Sets a parameter; the error message on refusal.
    pub fn set(&mut self, param: TJPARAM, value: i32) -> Result<(), String> {
        // SAFETY: valid handle; the parameter ids come from the bindings.
        match unsafe { tj::tj3Set(self.0, param as i32, value) } {
            0 => Ok(()),
            _ => Err(self.error_message()),
        }
    }

    pub fn get(&mut self, param: TJPARAM) -> i32 {
        // SAFETY: valid handle.
        unsafe { tj::tj3Get(self.0, param as i32) }
    }

    /// The last error's text.
    pub fn error_message(&mut self) -> String {
        // SAFETY: valid handle; tj3GetErrorStr returns a NUL-terminated string owned by
        // the handle, copied here before the handle is used again.
        let msg = unsafe { CStr::from_ptr(tj::tj3GetErrorStr(self.0)) };
        msg.to_string_lossy().into_owned()
    }

    /// Turns a TurboJPEG return code into a result. Warnings pass when `allow_warnings`:
    /// TurboJPEG reports a warning (e.g. "extraneous bytes before marker") with the same
    /// -1 as a fatal error, and only `tj3GetErrorCode` tells them apart.
    pub fn check(&mut self, rc: i32, allow_warnings: bool) -> Result<(), String> {
        // SAFETY: valid handle.
        let warning = unsafe { tj::tj3GetErrorCode(self.0) } == tj::TJERR_TJERR_WARNING as i32;
        if rc == 0 || (allow_warnings && warning) {
            Ok(())
        } else {
            Err(self.error_message())
        }
    }
}
