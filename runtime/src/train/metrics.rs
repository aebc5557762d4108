//! [`MetricsLog`]: a CSV file with one row of named values per epoch.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// A metrics file could not be written or read back.
#[derive(Debug, Error)]
pub enum MetricsError {
    /// Opening, reading or writing the file failed.
    #[error("{}: I/O error: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A row's column names differ from the header.
    #[error("{}: epoch {epoch} has columns {found:?}, the header has {expected:?}", path.display())]
    Columns {
        /// The file.
        path: PathBuf,
        /// The row's epoch.
        epoch: usize,
        /// The header's columns after `epoch`.
        expected: Vec<String>,
        /// The row's columns.
        found: Vec<String>,
    },
    /// An existing file's line is not a row of numbers matching its header.
    #[error("{}: line {line}: {detail}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        detail: String,
    },
}

/// A CSV log: a header `epoch,NAME,...` written with the first row, then
/// one row per [`record`](MetricsLog::record), flushed at once so the file
/// is complete after every epoch. The rows are also kept in memory
/// ([`column`](MetricsLog::column)) for plotting.
///
/// ```no_run
/// use adjoint_runtime::train::MetricsLog;
///
/// let mut log = MetricsLog::new("target/metrics.csv")?;
/// log.record(1, &[("train_loss", 0.21), ("test_accuracy", 0.97)])?;
/// assert_eq!(log.column("train_loss"), Some(vec![0.21]));
/// # Ok::<(), adjoint_runtime::train::MetricsError>(())
/// ```
pub struct MetricsLog {
    path: PathBuf,
    out: BufWriter<File>,
    columns: Option<Vec<String>>,
    rows: Vec<(usize, Vec<f64>)>,
}

impl MetricsLog {
    /// Creates (or truncates) the log at `path`.
    pub fn new(path: impl AsRef<Path>) -> Result<Self, MetricsError> {
        let path = path.as_ref().to_path_buf();
        let file = File::create(&path).map_err(|source| io_error(&path, source))?;
        Ok(Self {
            path,
            out: BufWriter::new(file),
            columns: None,
            rows: Vec::new(),
        })
    }

    /// Continues the log at `path` after epoch `last_epoch`: keeps its rows
    /// up to that epoch, drops later ones (an interrupted run's), and
    /// appends new rows after them. A missing file starts a new log.
    pub fn resume(path: impl AsRef<Path>, last_epoch: usize) -> Result<Self, MetricsError> {
        let path = path.as_ref().to_path_buf();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Self::new(path),
            Err(e) => return Err(io_error(&path, e)),
        };
        let (columns, mut rows) = parse(&text, &path)?;
        rows.retain(|(epoch, _)| *epoch <= last_epoch);
        let mut log = Self::new(&path)?;
        if let Some(columns) = columns {
            log.write_header(&columns)?;
            log.columns = Some(columns);
            for (epoch, values) in rows {
                log.write_row(epoch, &values)?;
                log.rows.push((epoch, values));
            }
            log.flush()?;
        }
        Ok(log)
    }

    /// Appends the row of `epoch`; the first row fixes the columns, later
    /// rows must name the same columns in the same order.
    pub fn record(&mut self, epoch: usize, values: &[(&str, f64)]) -> Result<(), MetricsError> {
        let names: Vec<String> = values.iter().map(|(n, _)| n.to_string()).collect();
        match &self.columns {
            None => {
                self.write_header(&names)?;
                self.columns = Some(names);
            }
            Some(expected) if *expected != names => {
                return Err(MetricsError::Columns {
                    path: self.path.clone(),
                    epoch,
                    expected: expected.clone(),
                    found: names,
                });
            }
            Some(_) => {}
        }
        let row: Vec<f64> = values.iter().map(|(_, v)| *v).collect();
        self.write_row(epoch, &row)?;
        self.rows.push((epoch, row));
        self.flush()
    }

    /// The values of column `name` in row order, or `None` if there is no
    /// such column.
    pub fn column(&self, name: &str) -> Option<Vec<f64>> {
        let i = self.columns.as_ref()?.iter().position(|c| c == name)?;
        Some(self.rows.iter().map(|(_, row)| row[i]).collect())
    }

    /// The epochs recorded, in row order.
    pub fn epochs(&self) -> Vec<usize> {
        self.rows.iter().map(|(e, _)| *e).collect()
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_header(&mut self, columns: &[String]) -> Result<(), MetricsError> {
        let line = format!("epoch,{}", columns.join(","));
        writeln!(self.out, "{line}").map_err(|e| io_error(&self.path, e))
    }

    fn write_row(&mut self, epoch: usize, values: &[f64]) -> Result<(), MetricsError> {
        let cells: Vec<String> = values.iter().map(f64::to_string).collect();
        writeln!(self.out, "{epoch},{}", cells.join(",")).map_err(|e| io_error(&self.path, e))
    }

    fn flush(&mut self) -> Result<(), MetricsError> {
        self.out.flush().map_err(|e| io_error(&self.path, e))
    }
}

/// The columns (after `epoch`) and rows of a log's text.
type Parsed = (Option<Vec<String>>, Vec<(usize, Vec<f64>)>);

/// Reads back a log written by [`MetricsLog`].
fn parse(text: &str, path: &Path) -> Result<Parsed, MetricsError> {
    let bad = |line: usize, detail: String| MetricsError::Parse {
        path: path.to_path_buf(),
        line,
        detail,
    };
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.is_empty());
    let Some((_, header)) = lines.next() else {
        return Ok((None, Vec::new()));
    };
    let mut names = header.split(',');
    if names.next() != Some("epoch") {
        return Err(bad(1, "the header does not start with `epoch`".to_string()));
    }
    let columns: Vec<String> = names.map(str::to_string).collect();
    let mut rows = Vec::new();
    for (i, line) in lines {
        let mut cells = line.split(',');
        let epoch = cells.next().and_then(|c| c.parse().ok()).ok_or_else(|| {
            bad(
                i + 1,
                format!("`{line}` does not start with an epoch number"),
            )
        })?;
        let values = cells
            .map(|c| c.parse::<f64>())
            .collect::<Result<Vec<f64>, _>>()
            .map_err(|e| bad(i + 1, format!("`{line}`: {e}")))?;
        if values.len() != columns.len() {
            return Err(bad(
                i + 1,
                format!("{} values for {} columns", values.len(), columns.len()),
            ));
        }
        rows.push((epoch, values));
    }
    Ok((Some(columns), rows))
}

fn io_error(path: &Path, source: io::Error) -> MetricsError {
    MetricsError::Io {
        path: path.to_path_buf(),
        source,
    }
}
