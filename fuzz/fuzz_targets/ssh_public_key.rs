//! Fuzzes the SSH public key reader (OpenSSH `ssh-rsa` and PEM forms): any text must read as a
//! key, with an SSH encoding that reads back to the same fingerprint, or be refused — never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_iam::iam::read_ssh_public_key;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok((blob, fingerprint)) = read_ssh_public_key(&text) {
        let again = format!("ssh-rsa {}", data_encoding::BASE64.encode(&blob));
        let (_, second) = read_ssh_public_key(&again).expect("Rampart's own encoding reads back");
        assert_eq!(fingerprint, second);
    }
});
