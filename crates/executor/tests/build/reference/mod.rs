//! Reference tests: the log analyser on `customization.log`s people published, read from
//! `AIB_REFERENCE_DIR` at test time.

mod logs;
