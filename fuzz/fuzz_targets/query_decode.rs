//! Fuzzes the awsQuery decoder: any form body, decoded against every STS input shape, must give a
//! value or an AWS error, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_shapes::generated::sts;
use rampart_wire::query::{Params, decode_input};

fuzz_target!(|data: &[u8]| {
    let params = Params::parse("", data);
    for op in sts::SERVICE.operations {
        if let Some(shape) = op.input {
            let _ = decode_input(&params, shape);
        }
    }
});
