//! The shadow model: what each kthread expects its own sectors of the device to hold, updated
//! after every write (in full, or a prefix at a boundary where the driver can stop when an
//! allocation failed) and discard (per driver generation's rules).

use ksim::blk::Bdev;
use ksim::check::expect;
use ksim::errno::Errno;
use ksim::mm::PAGE_SIZE;

use super::run::read;
use super::{Case, Driver, Faults, Tally, PAGE_SECTORS, SECTOR};

/// After a failed write of `new` over `old` at device byte `at`: the device holds `got`, which
/// must be `new` up to a boundary where the driver can stop and `old` after it.
fn prefix_ok(driver: Driver, at: usize, got: &[u8], new: &[u8], old: &[u8]) -> bool {
    (0..=got.len())
        .filter(|&l| {
            l == got.len() || l % PAGE_SIZE == 0 || (driver.splits_segments() && (at + l) % PAGE_SIZE == 0)
        })
        .any(|l| got[..l] == new[..l] && got[l..] == old[l..])
}

/// One kthread's state: its shadow of the device (meaningful on its own sectors).
pub(super) struct Worker<'a> {
    pub(super) case: &'a Case,
    pub(super) bdev: &'a Bdev,
    pub(super) tally: &'a Tally,
    pub(super) shadow: Vec<u8>,
}

impl Worker<'_> {
    /// Whether a write may fail: the driver allocates and a fault may have hit it.
    fn may_fail(&self, fired: bool) -> bool {
        self.case.driver.allocates() && (fired || matches!(self.case.faults, Faults::Probability { .. }))
    }

    /// Checks a write's result and updates the shadow. `errno` is the driver's failure errno.
    pub(super) fn written(
        &mut self,
        what: &str,
        sector: u64,
        new: &[u8],
        r: Result<(), Errno>,
        errno: Option<Errno>,
        fired: Option<bool>,
    ) {
        let at = sector as usize * SECTOR;
        let range = at..at + new.len();
        if let Some(fired) = fired {
            expect(fired == r.is_err(), || {
                format!(
                    "swarm: {what}: fail-nth {} but the write returned {r:?}",
                    if fired { "fired" } else { "did not fire" }
                )
            });
        }
        match r {
            Ok(()) => self.shadow[range].copy_from_slice(new),
            Err(e) => {
                Tally::bump(&self.tally.failed_writes);
                let ok = self.may_fail(fired == Some(true)) && Some(e) == errno;
                expect(ok, || {
                    format!("swarm: {what} failed with {e} (faults {}; the driver fails writes only with {errno:?} when an allocation fails)", self.case.faults)
                });
                match read(self.bdev, sector, new.len()) {
                    Ok(got) => {
                        let old = &self.shadow[range.clone()];
                        expect(prefix_ok(self.case.driver, at, &got, new, old), || {
                            format!("swarm: {what} failed with {e} and left neither a prefix of the new data nor the old data")
                        });
                        self.shadow[range].copy_from_slice(&got);
                    }
                    Err(e) => expect(false, || format!("swarm: reading back after a failed {what}: {e}")),
                }
            }
        }
    }

    /// The shadow after a successful discard.
    pub(super) fn discarded(&mut self, sector: u64, sectors: u64) {
        let zero_page = |shadow: &mut [u8], page: u64| {
            let at = page as usize * PAGE_SIZE;
            shadow[at..at + PAGE_SIZE].fill(0);
        };
        match self.case.driver {
            // 4.0: for each whole PAGE_SIZE of the length, the page containing the current
            // sector is zeroed (so an unaligned start zeroes data before the range too).
            Driver::BrdV4_0 { .. } => {
                for k in 0..(sectors * SECTOR as u64) / PAGE_SIZE as u64 {
                    zero_page(&mut self.shadow, (sector + k * PAGE_SECTORS) / PAGE_SECTORS);
                }
            }
            // Current: the whole pages inside the range are freed and read as zeros.
            Driver::BrdCurrent => {
                let first = sector.div_ceil(PAGE_SECTORS);
                let end = (sector + sectors) / PAGE_SECTORS;
                for p in first..end.min(self.case.pages) {
                    zero_page(&mut self.shadow, p);
                }
            }
            Driver::BrdV6_1 | Driver::BrdV6_1C | Driver::PmemV4_1 => unreachable!("discard is refused"),
        }
    }
}
