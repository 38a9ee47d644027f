//! Fuzzes the awsJson decoder: any body, decoded against every STS input shape, must give a value or
//! an AWS error, never a panic or a stack overflow.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_shapes::generated::sts;
use rampart_wire::json::decode_input;

fuzz_target!(|data: &[u8]| {
    for op in sts::SERVICE.operations {
        if let Some(shape) = op.input {
            let _ = decode_input(data, shape);
        }
    }
});
