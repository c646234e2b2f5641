//! brd.c (Linux 6.1, from the kernel tree at hand) compiled against ksim's headers: it loads,
//! takes its parameters, serves bios and tears down, under every scheduler.

use std::sync::Arc;

use ksim::blk::{submit_bio, Bio, ReqOp};
use ksim::gfp::{__GFP_ZERO, GFP_KERNEL};
use ksim::highmem::page_address;
use ksim::mm::{__free_page, alloc_page, memcpy_from, memcpy_to, PAGE_SIZE};
use ksim::prelude::*;
use ksim_c::brd::{BrdModule, Params};

fn module() -> Arc<BrdModule> {
    let tree = ksim_c::source::tree_installing().expect("a kernel tree");
    let img = ksim_c::brd::image(&tree).unwrap_or_else(|e| panic!("{e}"));
    BrdModule::new(&img, &tree.version).expect("a module instance")
}

#[test]
fn brd_c_writes_and_reads_back_a_page() {
    let m = module();
    let o = Runner::pct(1, 2, 20).run(move || {
        let brd =
            m.brd_init(&Params { rd_nr: Some(1), rd_size: Some(64), max_part: None }).expect("brd_init");
        assert_eq!(brd.nr_devices(), 1);
        let bdev = brd.open(0).expect("ram0");
        let page = alloc_page(GFP_KERNEL | __GFP_ZERO).expect("page");
        let data: Vec<u8> = (0..PAGE_SIZE).map(|i| (i % 251) as u8).collect();
        memcpy_to(page_address(page).unwrap(), &data);
        let mut bio = Bio::new(ReqOp::Write, 8);
        bio.add_page(page, PAGE_SIZE as u32, 0);
        submit_bio(&bdev, &mut bio).expect("write");
        let back = alloc_page(GFP_KERNEL | __GFP_ZERO).expect("page");
        let mut bio = Bio::new(ReqOp::Read, 8);
        bio.add_page(back, PAGE_SIZE as u32, 0);
        submit_bio(&bdev, &mut bio).expect("read");
        let mut got = vec![0u8; PAGE_SIZE];
        memcpy_from(&mut got, page_address(back).unwrap());
        assert_eq!(got, data);
        assert_eq!(brd.nr_pages(0), 1);
        __free_page(page);
        __free_page(back);
        drop(bdev);
        brd.brd_exit();
    });
    assert!(o.is_clean(), "{}", o.reports.iter().map(|r| r.text.clone()).collect::<String>());
}
