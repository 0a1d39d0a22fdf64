//! Whether an I/O error means this process ran short of a resource of its
//! own (descriptors, memory, socket buffers): a harness fault, which says
//! nothing about the client under test.

/// Errors that mean this process ran short of a resource of its own.
pub fn is_resource_exhaustion(errno: i32) -> bool {
    [libc::EMFILE, libc::ENFILE, libc::ENOMEM, libc::ENOBUFS].contains(&errno)
}

/// Whether `err` or what caused it is an I/O error of resource exhaustion.
pub fn ran_out_of_resources(mut err: &(dyn std::error::Error + 'static)) -> bool {
    loop {
        let cause = match err.downcast_ref::<std::io::Error>() {
            Some(io) if io.raw_os_error().is_some_and(is_resource_exhaustion) => return true,
            // An io::Error's `source` skips the error it wraps; look at that one too.
            Some(io) => io.get_ref().map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
        match cause {
            Some(next) => err = next,
            None => return false,
        }
    }
}
