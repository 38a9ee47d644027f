pub(crate) fn part_data(upload: &str, number: u32) -> Vec<u8> {
    format!("s3/partdata/{upload}/{number:05}").into_bytes()
}
