//! brd v4.0 discard (facts §1.8; checklist 12): zeroes present whole pages, skips absent ones,
//! ignores a sub-page tail, never frees — and, reproduced on purpose, an unaligned discard
//! zeroes the whole page containing its first sector (data outside the range) while leaving the
//! rest of the range alone.
#![forbid(unsafe_code)]

mod v4_common;

use ksim::blk::{submit_bio, Bio};
use ksim::mm::PAGE_SIZE;
use ksim::Config;
use ksim_drivers::brd_v4_0::{brd_exit, brd_init, Params};
use v4_common::*;

const PS: usize = PAGE_SIZE;

fn small() -> Params {
    Params { rd_nr: 1, rd_size: 64, dax: true, ..Params::default() }
}

#[test]
fn brd_v4_0_discard_zeroes_present_pages_skips_absent_ignores_tail_never_frees() {
    let (o, (status, nr_before, nr_after, back)) = run_clean(Config::v4_0(), || {
        let brd = brd_init(small()).unwrap();
        let bdev = brd.open(0).unwrap();
        // Pages 0, 2 and 3 present; page 1 absent.
        write_bytes(&bdev, 0, &pattern(PS, 1)).unwrap();
        write_bytes(&bdev, 16, &pattern(2 * PS, 2)).unwrap();
        let before = brd.nr_pages(0);
        // Three whole pages (0, 1, 2) and a 2 KiB tail into page 3.
        let mut bio = Bio::discard(0, 3 * PS as u64 + 2048);
        let status = submit_bio(&bdev, &mut bio);
        let after = brd.nr_pages(0);
        let back = read_bytes(&bdev, 0, 4 * PS).unwrap();
        drop(bdev);
        brd_exit(brd);
        (status, before, after, back)
    });
    assert_eq!(status, Ok(()));
    assert_eq!((nr_before, nr_after), (3, 3), "discard never frees and never allocates");
    assert_eq!(&back[..3 * PS], &vec![0u8; 3 * PS][..]);
    // The tail shorter than a page is ignored: page 3 is intact, including its first 2 KiB.
    assert_eq!(&back[3 * PS..], &pattern(2 * PS, 2)[PS..]);
    // Absent page 1 was skipped, not allocated.
    assert_eq!(brd_allocs(o.trace()).len(), 3);
}

#[test]
fn brd_v4_0_unaligned_discard_over_zeroes_the_containing_page() {
    let (_, (status, back)) = run_clean(Config::v4_0(), || {
        let brd = brd_init(small()).unwrap();
        let bdev = brd.open(0).unwrap();
        write_bytes(&bdev, 0, &pattern(2 * PS, 3)).unwrap();
        // Sectors 4..12: the second half of page 0 and the first half of page 1.
        let mut bio = Bio::discard(4, PS as u64);
        let status = submit_bio(&bdev, &mut bio);
        let back = read_bytes(&bdev, 0, 2 * PS).unwrap();
        drop(bdev);
        brd_exit(brd);
        (status, back)
    });
    assert_eq!(status, Ok(()));
    let data = pattern(2 * PS, 3);
    // 4.0 zeroes all of page 0 — sectors 0..4 were outside the request...
    assert_eq!(&back[..PS], &vec![0u8; PS][..]);
    // ...and none of page 1, although sectors 8..12 were inside it.
    assert_eq!(&back[PS..], &data[PS..]);
}

#[test]
fn brd_v4_0_discard_shorter_than_a_page_does_nothing() {
    let (_, (status, back, nr)) = run_clean(Config::v4_0(), || {
        let brd = brd_init(small()).unwrap();
        let bdev = brd.open(0).unwrap();
        write_bytes(&bdev, 0, &pattern(PS, 4)).unwrap();
        let mut bio = Bio::discard(0, PS as u64 - 512);
        let status = submit_bio(&bdev, &mut bio);
        let back = read_bytes(&bdev, 0, PS).unwrap();
        let nr = brd.nr_pages(0);
        drop(bdev);
        brd_exit(brd);
        (status, back, nr)
    });
    assert_eq!(status, Ok(()));
    assert_eq!(back, pattern(PS, 4));
    assert_eq!(nr, 1);
}
