//! libFuzzer target: every decoder a peer's bytes reach (frame header, requests, replies,
//! error replies, the server's handshake), through the body the fault suite also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    benchfs::fs::transport::fuzz::decode_everything(data);
});
