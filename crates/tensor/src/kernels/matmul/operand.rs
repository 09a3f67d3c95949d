//! How the kernels see a matrix: a pointer to its first element and the distances between
//! its columns and its rows.

use crate::kernels::Strided;

/// One matrix for the kernels: element `(i, j)` is at `ptr + i · row_stride + j ·
/// col_stride`. Strides are never negative (layouts have none).
pub(super) struct Operand<T> {
    pub(super) ptr: *const T,
    pub(super) col_stride: isize,
    pub(super) row_stride: isize,
}

// Not derived: a derive would ask `T: Copy`, which a pointer does not need.
impl<T> Clone for Operand<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Operand<T> {}

impl<T> Operand<T> {
    /// The last two dimensions of `s` as a matrix starting at element `offset` of its storage.
    pub(super) fn of(s: &Strided<'_, T>, offset: usize) -> Self {
        let strides = s.layout.strides();
        let rank = strides.len();
        // Strides address elements of an allocated slice, so they fit in isize.
        Operand {
            ptr: s.data[offset..].as_ptr(),
            col_stride: strides[rank - 1] as isize,
            row_stride: strides[rank - 2] as isize,
        }
    }

    /// A dense row-major matrix with `cols` columns.
    #[cfg(test)]
    pub(super) fn row_major(ptr: *const T, cols: usize) -> Self {
        Operand {
            ptr,
            col_stride: 1,
            row_stride: cols as isize,
        }
    }

    /// A dense column-major matrix with `rows` rows.
    pub(super) fn column_major(ptr: *const T, rows: usize) -> Self {
        Operand {
            ptr,
            col_stride: rows as isize,
            row_stride: 1,
        }
    }

    /// The transposed matrix, over the same elements.
    pub(super) fn transposed(self) -> Self {
        Operand {
            ptr: self.ptr,
            col_stride: self.row_stride,
            row_stride: self.col_stride,
        }
    }

    /// Whether the elements of each row are adjacent.
    pub(super) fn rows_contiguous(&self) -> bool {
        self.col_stride == 1
    }

    /// Whether the elements of each column are adjacent.
    pub(super) fn columns_contiguous(&self) -> bool {
        self.row_stride == 1
    }

    /// Rows contiguous and columns not: a row-major matrix with more than one column.
    pub(super) fn is_row_major(&self) -> bool {
        self.rows_contiguous() && !self.columns_contiguous()
    }

    /// Columns contiguous and rows not: a column-major matrix with more than one row.
    pub(super) fn is_column_major(&self) -> bool {
        self.columns_contiguous() && !self.rows_contiguous()
    }

    /// The matrix from row `row` on.
    ///
    /// # Safety
    /// Row `row` must lie inside the matrix.
    pub(super) unsafe fn rows_from(self, row: usize) -> Self {
        Operand {
            // SAFETY: the caller's contract.
            ptr: unsafe { self.ptr.offset(row as isize * self.row_stride) },
            ..self
        }
    }

    /// The matrix from column `col` on.
    ///
    /// # Safety
    /// Column `col` must lie inside the matrix.
    pub(super) unsafe fn columns_from(self, col: usize) -> Self {
        Operand {
            // SAFETY: the caller's contract.
            ptr: unsafe { self.ptr.offset(col as isize * self.col_stride) },
            ..self
        }
    }
}

impl<T: Copy> Operand<T> {
    /// Element `(i, j)`.
    ///
    /// # Safety
    /// The element must be readable.
    #[inline]
    pub(super) unsafe fn at(&self, i: usize, j: usize) -> T {
        // SAFETY: the caller's contract.
        unsafe {
            *self
                .ptr
                .offset(i as isize * self.row_stride + j as isize * self.col_stride)
        }
    }
}

/// The layout invariant, checked before the kernels get raw pointers into `s`.
pub(super) fn assert_inside<T>(s: &Strided<'_, T>) {
    let inside = s.layout.max_offset().is_none_or(|max| max < s.data.len());
    assert!(
        inside,
        "internal: matmul operand layout outside its storage"
    );
}
