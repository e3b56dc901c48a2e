//! `aib import` on templates written for these tests, one for every form ARM accepts.
