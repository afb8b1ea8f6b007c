//! Whatever an upload holds, reading it returns codes or an error instead of panicking:
//! arbitrary bytes, and arbitrary bytes behind a PNG or JPEG signature.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use healthcode_qrscan::read;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_pictures(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = read(&bytes);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&bytes);
        prop_assert!(read(&png).is_err());
        let mut jpeg = vec![0xff, 0xd8, 0xff];
        jpeg.extend_from_slice(&bytes);
        prop_assert!(read(&jpeg).is_err());
    }
}
