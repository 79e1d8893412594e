//! Streaming CSV reading on all cores, without giving up correctness.
//!
//! The file is read in blocks of a few MiB cut at line ends. A block with no
//! quote character and no lone carriage return is split on `\n` and `,` by
//! hand — every line is one record — and blocks are handed to the worker
//! threads as they come, each worker feeding its own [`RowSink`]. The first
//! block that holds a quote (a quoted field may contain commas or line
//! breaks) or a lone `\r` (an old Mac line end) switches the rest of the file
//! to one sequential `csv` crate reader, starting at that block's first line
//! (a record boundary, since everything before it was quote-free). Memory
//! stays at a few blocks whatever the file size.
//!
//! Both readers agree on what a record is: `\n`, `\r\n` (and `\r`) end a line,
//! empty lines are not records, a UTF-8 byte-order mark is dropped, rows may
//! have more or fewer fields than the header (the sink decides). Line numbers
//! are physical lines, 1-based, counting the header.

use std::fs::File;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::ConsentError;

/// Target block size.
const BLOCK: usize = 4 << 20;

/// Longest line accepted (a file without line breaks is not an export).
const MAX_LINE: usize = 16 << 20;

/// Receives rows; one sink per worker thread.
pub trait RowSink {
    /// One record: its line number and its fields (raw bytes, unquoted).
    fn row(&mut self, line: u64, fields: &[&[u8]]);

    /// Called once when the file is done (flush batched work).
    fn end(&mut self) {}
}

type SeqReader = csv::Reader<Box<dyn Read + Send>>;

enum Body {
    /// Fast, parallel: the file and the bytes already read after the header.
    Fast {
        file: File,
        pending: Vec<u8>,
        next_line: u64,
        eof: bool,
    },
    /// The `csv` crate from here on; `offset` turns its line numbers into
    /// file line numbers.
    Seq { reader: Box<SeqReader>, offset: u64 },
}

/// An open CSV file whose header has been read.
pub struct CsvFile {
    path: PathBuf,
    header: Vec<Vec<u8>>,
    header_line: u64,
    body: Body,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ConsentError + '_ {
    move |source| ConsentError::Io {
        path: path.to_owned(),
        source,
    }
}

fn csv_err(path: &Path, offset: u64, e: csv::Error) -> ConsentError {
    let line = e.position().map(|p| p.line() + offset).unwrap_or(0);
    match e.into_kind() {
        csv::ErrorKind::Io(source) => ConsentError::Io {
            path: path.to_owned(),
            source,
        },
        other => ConsentError::Csv {
            path: path.to_owned(),
            line,
            message: format!("{other:?}"),
        },
    }
}

/// The `csv` crate reader. Records end at `\n` (a `\r` before it is removed
/// from the last field), because with its default terminator (`\r`, `\n` or
/// `\r\n`) the crate reports line numbers one too low after every CRLF.
/// Only for data with a lone `\r` (old Mac line ends) is that terminator
/// used.
fn seq_reader(r: Box<dyn Read + Send>, lone_cr: bool) -> Box<SeqReader> {
    Box::new(
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .terminator(if lone_cr {
                csv::Terminator::CRLF
            } else {
                csv::Terminator::Any(b'\n')
            })
            .from_reader(r),
    )
}

/// Whether `data` has a `\r` that is not followed by `\n`.
fn has_lone_cr(data: &[u8]) -> bool {
    memchr::memchr_iter(b'\r', data).any(|i| data.get(i + 1).is_some_and(|&b| b != b'\n'))
}

/// The fields of a record read by the csv crate: a `\r` ending the last
/// field is the rest of a CRLF line end; `None` for an empty line.
fn record_fields(rec: &csv::ByteRecord) -> Option<Vec<&[u8]>> {
    let mut fields: Vec<&[u8]> = rec.iter().collect();
    if let Some(last) = fields.last_mut() {
        *last = last.strip_suffix(b"\r").unwrap_or(last);
    }
    if fields.len() == 1 && fields[0].is_empty() {
        return None;
    }
    Some(fields)
}

/// Whether a block can be split by hand: no `"` and every `\r` followed by `\n`.
fn plain(block: &[u8]) -> bool {
    for i in memchr::memchr2_iter(b'"', b'\r', block) {
        if block[i] == b'"' || block.get(i + 1).is_some_and(|&b| b != b'\n') {
            return false;
        }
    }
    true
}

fn split_fields<'a>(line: &'a [u8], out: &mut Vec<&'a [u8]>) {
    out.clear();
    let mut start = 0;
    for i in memchr::memchr_iter(b',', line) {
        out.push(&line[start..i]);
        start = i + 1;
    }
    out.push(&line[start..]);
}

impl CsvFile {
    /// Opens a file and reads its header (the first non-empty record).
    pub fn open(path: &Path) -> Result<CsvFile, ConsentError> {
        let mut file = File::open(path).map_err(io_err(path))?;
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
        let mut eof = false;
        let mut scanned = 0;
        let mut line = 1u64;
        let mut bom_checked = false;
        loop {
            // Find the first non-empty line in what has been read.
            while let Some(nl) = memchr::memchr(b'\n', &buf[scanned..]) {
                let end = scanned + nl;
                let l = buf[scanned..end]
                    .strip_suffix(b"\r")
                    .unwrap_or(&buf[scanned..end]);
                if !l.is_empty() {
                    return CsvFile::with_header(path, file, buf, scanned, end + 1, line, eof);
                }
                scanned = end + 1;
                line += 1;
            }
            if eof {
                let rest = &buf[scanned..];
                let rest = rest.strip_suffix(b"\r").unwrap_or(rest);
                if rest.is_empty() {
                    return Err(ConsentError::Empty {
                        path: path.to_owned(),
                    });
                }
                let len = buf.len();
                return CsvFile::with_header(path, file, buf, scanned, len, line, eof);
            }
            if buf.len() - scanned > MAX_LINE {
                return Err(ConsentError::Csv {
                    path: path.to_owned(),
                    line,
                    message: format!("line longer than {} MiB: not a CSV export?", MAX_LINE >> 20),
                });
            }
            let len = buf.len();
            buf.resize(len + (1 << 16), 0);
            let n = file.read(&mut buf[len..]).map_err(io_err(path))?;
            buf.truncate(len + n);
            eof = n == 0;
            if !bom_checked && (buf.len() >= 3 || eof) {
                bom_checked = true;
                if buf.starts_with(b"\xEF\xBB\xBF") {
                    buf.drain(..3);
                }
            }
        }
    }

    /// `buf[start..end]` is the header line (with its line end, if any).
    fn with_header(
        path: &Path,
        file: File,
        buf: Vec<u8>,
        start: usize,
        end: usize,
        line: u64,
        eof: bool,
    ) -> Result<CsvFile, ConsentError> {
        let raw = &buf[start..end];
        let text = raw.strip_suffix(b"\n").unwrap_or(raw);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if plain(text) {
            let mut fields = Vec::new();
            split_fields(text, &mut fields);
            let header = fields.iter().map(|f| f.to_vec()).collect();
            let pending = buf[end..].to_vec();
            return Ok(CsvFile {
                path: path.to_owned(),
                header,
                header_line: line,
                body: Body::Fast {
                    file,
                    pending,
                    next_line: line + 1,
                    eof,
                },
            });
        }
        // A quoted header: the csv crate reads everything from the header on.
        let lone_cr = has_lone_cr(&buf[start..]);
        let rest: Box<dyn Read + Send> = Box::new(Cursor::new(buf[start..].to_vec()).chain(file));
        let mut reader = seq_reader(rest, lone_cr);
        let offset = line - 1;
        let mut rec = csv::ByteRecord::new();
        if !reader
            .read_byte_record(&mut rec)
            .map_err(|e| csv_err(path, offset, e))?
        {
            return Err(ConsentError::Empty {
                path: path.to_owned(),
            });
        }
        let header_line = rec.position().map_or(line, |p| p.line() + offset);
        Ok(CsvFile {
            path: path.to_owned(),
            header: record_fields(&rec)
                .unwrap_or_default()
                .into_iter()
                .map(<[u8]>::to_vec)
                .collect(),
            header_line,
            body: Body::Seq { reader, offset },
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header's fields, as in the file.
    pub fn header(&self) -> &[Vec<u8>] {
        &self.header
    }

    pub fn header_line(&self) -> u64 {
        self.header_line
    }

    /// Feeds every record after the header to the sinks (one thread per
    /// sink) and returns them.
    pub fn scan<S: RowSink + Send>(self, mut sinks: Vec<S>) -> Result<Vec<S>, ConsentError> {
        assert!(!sinks.is_empty(), "scan needs at least one sink");
        let path = self.path;
        match self.body {
            Body::Seq { reader, offset } => {
                scan_seq(&path, *reader, offset, &mut sinks[0])?;
                sinks.iter_mut().for_each(RowSink::end);
                Ok(sinks)
            }
            Body::Fast {
                file,
                pending,
                next_line,
                eof,
            } => scan_parallel(&path, file, pending, next_line, eof, sinks),
        }
    }
}

impl CsvFile {
    /// Visits every record after the header, in file order, on this thread.
    pub fn for_each(self, f: impl FnMut(u64, &[&[u8]])) -> Result<(), ConsentError> {
        struct Visit<F>(F);
        impl<F: FnMut(u64, &[&[u8]])> RowSink for Visit<F> {
            fn row(&mut self, line: u64, fields: &[&[u8]]) {
                (self.0)(line, fields)
            }
        }
        let mut sink = Visit(f);
        let path = self.path;
        match self.body {
            Body::Seq { reader, offset } => scan_seq(&path, *reader, offset, &mut sink),
            Body::Fast {
                file,
                pending,
                next_line,
                eof,
            } => {
                let mut feed = Feed {
                    file: Some(file),
                    carry: pending,
                    next_line,
                    eof,
                    stop: false,
                    error: None,
                };
                let mut buf = Vec::with_capacity(BLOCK + (1 << 16));
                loop {
                    match next_block(&path, &mut feed, &mut buf)? {
                        Next::Block(line) => scan_block(&buf, line, &mut sink),
                        Next::Seq(reader, offset) => {
                            return scan_seq(&path, *reader, offset, &mut sink);
                        }
                        Next::Done => return Ok(()),
                    }
                }
            }
        }
    }
}

fn scan_seq<S: RowSink>(
    path: &Path,
    mut reader: SeqReader,
    offset: u64,
    sink: &mut S,
) -> Result<(), ConsentError> {
    let mut rec = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(e) => return Err(csv_err(path, offset, e)),
        }
        let line = rec.position().map_or(0, |p| p.line() + offset);
        if let Some(fields) = record_fields(&rec) {
            sink.row(line, &fields);
        }
    }
}

struct Feed {
    file: Option<File>,
    carry: Vec<u8>,
    next_line: u64,
    eof: bool,
    /// Set when a block needed the csv crate: no more fast blocks.
    stop: bool,
    error: Option<ConsentError>,
}

enum Next {
    /// A plain block starting at this line.
    Block(u64),
    /// From this block on, the csv crate (reader, line offset).
    Seq(Box<SeqReader>, u64),
    Done,
}

/// Fills `buf` with the next block (whole lines), under the feed's lock.
fn next_block(path: &Path, feed: &mut Feed, buf: &mut Vec<u8>) -> Result<Next, ConsentError> {
    if feed.stop || (feed.eof && feed.carry.is_empty()) {
        return Ok(Next::Done);
    }
    buf.clear();
    buf.append(&mut feed.carry);
    let mut searched = 0;
    let cut = loop {
        if buf.len() >= BLOCK || feed.eof {
            if let Some(p) = memchr::memrchr(b'\n', &buf[searched..]) {
                break Some(searched + p + 1);
            }
            if feed.eof {
                break None;
            }
            if buf.len() > BLOCK + MAX_LINE {
                return Err(ConsentError::Csv {
                    path: path.to_owned(),
                    line: feed.next_line,
                    message: format!("line longer than {} MiB: not a CSV export?", MAX_LINE >> 20),
                });
            }
            searched = buf.len();
        }
        let len = buf.len();
        let want = BLOCK.max(1 << 16);
        buf.resize(len + want, 0);
        let file = feed.file.as_mut().ok_or_else(|| ConsentError::Io {
            path: path.to_owned(),
            source: std::io::Error::other("file already handed to the sequential reader"),
        })?;
        let n = match file.read(&mut buf[len..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => 0,
            Err(source) => {
                buf.truncate(len);
                return Err(ConsentError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        buf.truncate(len + n);
        if n == 0 {
            feed.eof = true;
        }
    };
    if let Some(cut) = cut {
        feed.carry.extend_from_slice(&buf[cut..]);
        buf.truncate(cut);
    }
    let start = feed.next_line;
    if !plain(buf) {
        feed.stop = true;
        let lone_cr = has_lone_cr(buf) || has_lone_cr(&feed.carry);
        let mut rest = std::mem::take(buf);
        rest.append(&mut feed.carry);
        let cursor = Cursor::new(rest);
        let reader: Box<dyn Read + Send> = match feed.file.take() {
            Some(f) if !feed.eof => Box::new(cursor.chain(f)),
            _ => Box::new(cursor),
        };
        return Ok(Next::Seq(seq_reader(reader, lone_cr), start - 1));
    }
    feed.next_line += memchr::memchr_iter(b'\n', buf).count() as u64;
    Ok(Next::Block(start))
}

/// Splits a plain block into records and fields in one pass over its
/// commas and line ends.
fn scan_block<S: RowSink>(block: &[u8], first_line: u64, sink: &mut S) {
    let mut fields: Vec<&[u8]> = Vec::with_capacity(16);
    let mut line = first_line;
    let mut field_start = 0;
    let emit = |fields: &mut Vec<&'_ [u8]>, line: u64, sink: &mut S| {
        // An empty line (one empty field) is not a record.
        if fields.len() > 1 || fields.first().is_some_and(|f| !f.is_empty()) {
            sink.row(line, fields);
        }
        fields.clear();
    };
    for i in memchr::memchr2_iter(b',', b'\n', block) {
        if block[i] == b',' {
            fields.push(&block[field_start..i]);
        } else {
            let f = &block[field_start..i];
            fields.push(f.strip_suffix(b"\r").unwrap_or(f));
            emit(&mut fields, line, sink);
            line += 1;
        }
        field_start = i + 1;
    }
    if field_start < block.len() {
        let f = &block[field_start..];
        fields.push(f.strip_suffix(b"\r").unwrap_or(f));
        emit(&mut fields, line, sink);
    } else if !fields.is_empty() {
        // A last line ending in a comma, without a line end.
        fields.push(&block[block.len()..]);
        emit(&mut fields, line, sink);
    }
}

fn scan_parallel<S: RowSink + Send>(
    path: &Path,
    file: File,
    pending: Vec<u8>,
    next_line: u64,
    eof: bool,
    sinks: Vec<S>,
) -> Result<Vec<S>, ConsentError> {
    let feed = Mutex::new(Feed {
        file: Some(file),
        carry: pending,
        next_line,
        eof,
        stop: false,
        error: None,
    });
    let mut sinks: Vec<S> = std::thread::scope(|s| {
        let handles: Vec<_> = sinks
            .into_iter()
            .map(|mut sink| {
                let feed = &feed;
                s.spawn(move || {
                    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK + (1 << 16));
                    loop {
                        let next = {
                            let mut f = feed.lock().unwrap_or_else(|p| p.into_inner());
                            if f.error.is_some() {
                                break;
                            }
                            match next_block(path, &mut f, &mut buf) {
                                Ok(n) => n,
                                Err(e) => {
                                    f.error = Some(e);
                                    f.stop = true;
                                    break;
                                }
                            }
                        };
                        match next {
                            Next::Block(line) => scan_block(&buf, line, &mut sink),
                            Next::Seq(reader, offset) => {
                                if let Err(e) = scan_seq(path, *reader, offset, &mut sink) {
                                    let mut f = feed.lock().unwrap_or_else(|p| p.into_inner());
                                    f.error = Some(e);
                                }
                                break;
                            }
                            Next::Done => break,
                        }
                    }
                    sink
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    sinks.iter_mut().for_each(RowSink::end);
    let f = feed.into_inner().unwrap_or_else(|p| p.into_inner());
    match f.error {
        Some(e) => Err(e),
        None => Ok(sinks),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<(u64, Vec<String>)>);

    impl RowSink for Collect {
        fn row(&mut self, line: u64, fields: &[&[u8]]) {
            self.0.push((
                line,
                fields
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect(),
            ));
        }
    }

    fn read(bytes: &[u8], threads: usize) -> (Vec<String>, Vec<(u64, Vec<String>)>) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.csv");
        std::fs::write(&p, bytes).unwrap();
        let f = CsvFile::open(&p).unwrap();
        let header = f
            .header()
            .iter()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect();
        let sinks = f
            .scan((0..threads).map(|_| Collect::default()).collect())
            .unwrap();
        let mut rows: Vec<_> = sinks.into_iter().flat_map(|s| s.0).collect();
        rows.sort();
        (header, rows)
    }

    fn row(line: u64, f: &[&str]) -> (u64, Vec<String>) {
        (line, f.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn bom_crlf_and_blank_lines() {
        let (h, rows) = read(b"\xEF\xBB\xBFphone,name\r\n+1 415,Ana\r\n\r\n415,Bo\r\n", 2);
        assert_eq!(h, ["phone", "name"]);
        assert_eq!(rows, [row(2, &["+1 415", "Ana"]), row(4, &["415", "Bo"])]);
    }

    #[test]
    fn quoted_fields_with_embedded_newlines_use_the_csv_crate() {
        let (h, rows) = read(b"phone,note\n415,\"a, b\nc\"\n416,x\n", 2);
        assert_eq!(h, ["phone", "note"]);
        assert_eq!(rows, [row(2, &["415", "a, b\nc"]), row(4, &["416", "x"])]);
    }

    #[test]
    fn quoted_header() {
        let (h, rows) = read(b"\"phone\",\"name\"\n415,Ana", 1);
        assert_eq!(h, ["phone", "name"]);
        assert_eq!(rows, [row(2, &["415", "Ana"])]);
    }

    #[test]
    fn ragged_rows_and_no_final_newline() {
        let (_, rows) = read(b"a,b,c\n1\n1,2,3,4\n5,6", 2);
        assert_eq!(
            rows,
            [
                row(2, &["1"]),
                row(3, &["1", "2", "3", "4"]),
                row(4, &["5", "6"])
            ]
        );
    }

    #[test]
    fn old_mac_line_ends() {
        let (h, rows) = read(b"a,b\r1,2\r3,4\r", 2);
        assert_eq!(h, ["a", "b"]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].1, ["3", "4"]);
    }

    #[test]
    fn empty_files_are_errors() {
        let d = tempfile::tempdir().unwrap();
        for bytes in [&b""[..], b"\xEF\xBB\xBF", b"\n\r\n"] {
            let p = d.path().join("e.csv");
            std::fs::write(&p, bytes).unwrap();
            assert!(matches!(CsvFile::open(&p), Err(ConsentError::Empty { .. })));
        }
    }

    #[test]
    fn large_files_split_into_blocks_give_every_row_once() {
        let mut s = String::from("phone,n\n");
        for i in 0..400_000 {
            s.push_str(&format!("{i},row number {i}\n"));
        }
        // A quote late in the file switches to the csv crate mid-way.
        s.push_str("\"999\",\"quoted, late\"\n1000000,last\n");
        let (_, rows) = read(s.as_bytes(), 2);
        assert_eq!(rows.len(), 400_002);
        for (i, r) in rows.iter().take(400_000).enumerate() {
            assert_eq!(r.0, i as u64 + 2);
            assert_eq!(r.1[0], i.to_string());
        }
        assert_eq!(rows[400_000], row(400_002, &["999", "quoted, late"]));
        assert_eq!(rows[400_001], row(400_003, &["1000000", "last"]));
    }

    fn read_lines(bytes: &[u8]) -> Vec<u64> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.csv");
        std::fs::write(&p, bytes).unwrap();
        let f = CsvFile::open(&p).unwrap();
        let mut v = Vec::new();
        f.for_each(|l, _| v.push(l)).unwrap();
        v
    }

    #[test]
    fn quoted_crlf_line_numbers() {
        assert_eq!(
            read_lines(b"\"phone\"\r\n\"1\"\r\n\"2\"\r\n\"3\"\r\n"),
            [2, 3, 4]
        );
        assert_eq!(read_lines(b"\"phone\"\n\"1\"\n\"2\"\n\"3\"\n"), [2, 3, 4]);
        assert_eq!(read_lines(b"phone\r\n1\r\n\"2\"\r\n3\r\n"), [2, 3, 4]);
        assert_eq!(
            read_lines(b"\"phone\"\r\n\r\n\"1\"\r\n\"a\r\nb\"\r\n3"),
            [3, 4, 6]
        );
    }
}
