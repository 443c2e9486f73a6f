//! What a build is made of before and after the hypervisor is compiled: the checked config, the partitions'
//! images and device trees, the layout, and the size facts of the built hypervisor. Plain data, so the steps that
//! make it (`pipeline`) and the ones that report on it (`report`) both depend on it and not on each other.

use std::path::PathBuf;

use crate::config::System;
use crate::diag::Report;
use crate::image::ImageHeader;
use crate::layout::Layout;

/// A config that passed every check.
#[derive(Clone, Debug)]
pub struct Checked {
    pub system: System,
    /// The config's text and its warnings.
    pub report: Report,
    /// Absolute path of the config file.
    pub config_path: PathBuf,
}

impl Checked {
    /// The config file as the user sees it.
    pub fn file_name(&self) -> &str {
        self.report.file_name()
    }

    /// A new report on the same file, for problems found after checking.
    pub(crate) fn fresh_report(&self) -> Report {
        Report::new(self.report.file_name(), self.report.source())
    }
}

/// A partition's kernel, ready to pack.
#[derive(Clone, Debug)]
pub struct KernelImage {
    pub bytes: Vec<u8>,
    pub header: ImageHeader,
    /// Where it came from, for reports.
    pub from: String,
}

/// What the layout needs to know about a partition's kernel and ramdisk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageSizes {
    /// Bytes of the kernel to copy.
    pub kernel_len: u64,
    pub header: ImageHeader,
    /// Bytes of the ramdisk, when the partition has one.
    pub ramdisk_len: Option<u64>,
}

impl ImageSizes {
    /// The sizes of loaded kernels and ramdisks.
    pub fn of(kernels: &[KernelImage], ramdisks: &[Option<Vec<u8>>]) -> Vec<ImageSizes> {
        kernels
            .iter()
            .zip(ramdisks)
            .map(|(k, r)| ImageSizes {
                kernel_len: k.bytes.len() as u64,
                header: k.header,
                ramdisk_len: r.as_ref().map(|r| r.len() as u64),
            })
            .collect()
    }
}

/// Everything known before the hypervisor is built: kernels, ramdisks, device trees, layout.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub checked: Checked,
    pub kernels: Vec<KernelImage>,
    /// Each partition's ramdisk, when it has one.
    pub ramdisks: Vec<Option<Vec<u8>>>,
    pub dtbs: Vec<Vec<u8>>,
    /// Each disk's image, when it has one (in `System::disks` order).
    pub disk_images: Vec<Option<Vec<u8>>>,
    pub layout: Layout,
}

impl Prepared {
    /// The pieces of the payload.
    pub fn parts(&self) -> Parts<'_> {
        Parts { kernels: &self.kernels, ramdisks: &self.ramdisks, dtbs: &self.dtbs, disk_images: &self.disk_images }
    }
}

/// The payload's pieces, in config order.
#[derive(Clone, Copy, Debug)]
pub struct Parts<'a> {
    pub kernels: &'a [KernelImage],
    pub ramdisks: &'a [Option<Vec<u8>>],
    pub dtbs: &'a [Vec<u8>],
    pub disk_images: &'a [Option<Vec<u8>>],
}

/// Size facts about the built hypervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HvStats {
    /// Bytes of the flattened image (code and data).
    pub image_len: u64,
    /// Bytes from the load address to `__hv_end` (bss included).
    pub end: u64,
    pub budget: u64,
}
