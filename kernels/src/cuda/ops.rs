//! CUDA C kernels of the runtime's ops that are not element-wise maps (those
//! are regions: [`super::region_kernels`]): cross-entropy over class labels,
//! a summing reduction, sums and softmaxes along an axis (a tensor viewed as
//! `[outer, len, inner]`, the axis in the middle), a convolution's
//! `im2col`/`col2im` (the products are cuBLAS's), max pooling with its
//! argmax and the scatter of its adjoint, average pooling and its adjoint,
//! the first arg-max along an axis, a gather along an axis by an index list
//! and its scatter, dropout's counter-based mask (the runtime's SplitMix64
//! stream, bit for bit), and Adam's update. Each is a `__device__` template
//! with `extern "C"` entry points for `float` (`…_f32`) and `double`
//! (`…_f64`), no includes; the runtime compiles [`SOURCE`] once per device
//! with NVRTC.

/// Threads per block of every kernel here (the sum's shared array).
pub const BLOCK: u32 = 256;

/// Every kernel of this module, in one source.
pub const SOURCE: &str = r#"
template <typename T>
__device__ void cross_entropy_rows(const T* x, const unsigned int* labels, T* loss,
                                   unsigned long long rows, unsigned long long classes) {
  for (unsigned long long r = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; r < rows;
       r += (unsigned long long)blockDim.x * gridDim.x) {
    const T* row = x + r * classes;
    T top = row[0];
    for (unsigned long long j = 1; j < classes; j++) top = row[j] > top ? row[j] : top;
    T total = T(0);
    for (unsigned long long j = 0; j < classes; j++) total += exp(row[j] - top);
    loss[r] = log(total) + top - row[labels[r]];
  }
}

template <typename T>
__device__ void cross_entropy_backward_rows(const T* x, const unsigned int* labels, T* d, T scale,
                                            unsigned long long rows, unsigned long long classes) {
  for (unsigned long long r = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; r < rows;
       r += (unsigned long long)blockDim.x * gridDim.x) {
    const T* row = x + r * classes;
    T top = row[0];
    for (unsigned long long j = 1; j < classes; j++) top = row[j] > top ? row[j] : top;
    T total = T(0);
    for (unsigned long long j = 0; j < classes; j++) total += exp(row[j] - top);
    for (unsigned long long j = 0; j < classes; j++) {
      T p = exp(row[j] - top) / total;
      d[r * classes + j] = (p - (j == labels[r] ? T(1) : T(0))) * scale;
    }
  }
}

template <typename T>
__device__ void block_sums(const T* x, T* partial, unsigned long long n) {
  __shared__ T cache[256];
  T acc = T(0);
  for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
       i += (unsigned long long)blockDim.x * gridDim.x) {
    acc += x[i];
  }
  cache[threadIdx.x] = acc;
  __syncthreads();
  for (unsigned int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) cache[threadIdx.x] += cache[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = cache[0];
}

template <typename T>
__device__ void sum_axis(const T* x, T* out, unsigned long long outer, unsigned long long len,
                         unsigned long long inner, T scale) {
  for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < outer * inner;
       i += (unsigned long long)blockDim.x * gridDim.x) {
    const T* row = x + (i / inner) * len * inner + i % inner;
    T acc = T(0);
    for (unsigned long long k = 0; k < len; k++) acc += row[k * inner];
    out[i] = acc * scale;
  }
}

template <typename T>
__device__ void softmax_axis(const T* x, T* y, unsigned long long outer, unsigned long long len,
                             unsigned long long inner, int log_domain) {
  for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < outer * inner;
       i += (unsigned long long)blockDim.x * gridDim.x) {
    unsigned long long start = (i / inner) * len * inner + i % inner;
    T top = x[start];
    for (unsigned long long k = 1; k < len; k++) top = x[start + k * inner] > top ? x[start + k * inner] : top;
    T total = T(0);
    for (unsigned long long k = 0; k < len; k++) total += exp(x[start + k * inner] - top);
    for (unsigned long long k = 0; k < len; k++) {
      T shifted = x[start + k * inner] - top;
      y[start + k * inner] = log_domain ? shifted - log(total) : exp(shifted) / total;
    }
  }
}

template <typename T>
__device__ void softmax_axis_backward(const T* y, const T* g, T* dx, unsigned long long outer,
                                      unsigned long long len, unsigned long long inner, int log_domain) {
  for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < outer * inner;
       i += (unsigned long long)blockDim.x * gridDim.x) {
    unsigned long long start = (i / inner) * len * inner + i % inner;
    T acc = T(0);
    for (unsigned long long k = 0; k < len; k++) {
      unsigned long long at = start + k * inner;
      acc += log_domain ? g[at] : g[at] * y[at];
    }
    for (unsigned long long k = 0; k < len; k++) {
      unsigned long long at = start + k * inner;
      dx[at] = log_domain ? g[at] - exp(y[at]) * acc : y[at] * (g[at] - acc);
    }
  }
}

template <typename T>
__device__ void im2col(const T* x, T* cols, unsigned long long c, unsigned long long h,
                       unsigned long long w, unsigned long long kh, unsigned long long kw,
                       unsigned long long stride, unsigned long long pad, unsigned long long ho,
                       unsigned long long wo) {
  unsigned long long l = ho * wo;
  for (unsigned long long idx = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
       idx < c * kh * kw * l; idx += (unsigned long long)blockDim.x * gridDim.x) {
    unsigned long long col = idx % l, row = idx / l;
    unsigned long long ox = col % wo, oy = col / wo;
    unsigned long long j = row % kw, i = (row / kw) % kh, ch = row / (kw * kh);
    long long iy = (long long)(oy * stride + i) - (long long)pad;
    long long ix = (long long)(ox * stride + j) - (long long)pad;
    bool inside = iy >= 0 && iy < (long long)h && ix >= 0 && ix < (long long)w;
    cols[idx] = inside ? x[(ch * h + (unsigned long long)iy) * w + (unsigned long long)ix] : T(0);
  }
}

template <typename T>
__device__ void col2im(const T* cols, T* dx, unsigned long long c, unsigned long long h,
                       unsigned long long w, unsigned long long kh, unsigned long long kw,
                       unsigned long long stride, unsigned long long pad, unsigned long long ho,
                       unsigned long long wo) {
  for (unsigned long long idx = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
       idx < c * h * w; idx += (unsigned long long)blockDim.x * gridDim.x) {
    long long ix = (long long)(idx % w), iy = (long long)((idx / w) % h);
    unsigned long long ch = idx / (h * w);
    T acc = T(0);
    for (unsigned long long i = 0; i < kh; i++) {
      long long ty = iy + (long long)pad - (long long)i;
      if (ty < 0 || ty % (long long)stride != 0 || ty / (long long)stride >= (long long)ho) continue;
      for (unsigned long long j = 0; j < kw; j++) {
        long long tx = ix + (long long)pad - (long long)j;
        if (tx < 0 || tx % (long long)stride != 0 || tx / (long long)stride >= (long long)wo) continue;
        acc += cols[((ch * kh + i) * kw + j) * ho * wo + (unsigned long long)(ty / (long long)stride) * wo +
                    (unsigned long long)(tx / (long long)stride)];
      }
    }
    dx[idx] = acc;
  }
}

template <typename T>
__device__ void max_pool(const T* x, T* y, unsigned long long* at, unsigned long long planes,
                         unsigned long long h, unsigned long long w, unsigned long long k,
                         unsigned long long stride, unsigned long long pad, unsigned long long ho,
                         unsigned long long wo) {
  for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
       i < planes * ho * wo; i += (unsigned long long)blockDim.x * gridDim.x) {
    unsigned long long ox = i % wo, oy = (i / wo) % ho, plane = i / (ho * wo);
    long long y0 = (long long)(oy * stride) - (long long)pad, x0 = (long long)(ox * stride) - (long long)pad;
    T best = T(0);
    unsigned long long where = ~0ull;
    for (long long iy = y0 < 0 ? 0 : y0; iy < y0 + (long long)k && iy < (long long)h; iy++) {
      for (long long ix = x0 < 0 ? 0 : x0; ix < x0 + (long long)k && ix < (long long)w; ix++) {
        unsigned long long idx = (plane * h + (unsigned long long)iy) * w + (unsigned long long)ix;
        T v = x[idx];
        if (where == ~0ull || v > best || (v != v && best == best)) {
          best = v;
          where = idx;
        }
      }
    }
    y[i] = best;
    at[i] = where;
  }
}

template <typename T>
__device__ void scatter_add(const T* g, const unsigned long long* at, T* dx, unsigned long long n) {
  for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
       i += (unsigned long long)blockDim.x * gridDim.x) {
    atomicAdd(&dx[at[i]], g[i]);
  }
}

template <typename T>
__device__ void argmax_axis(const T* x, T* values, unsigned long long* at, unsigned long long outer,
                            unsigned long long len, unsigned long long inner) {
  for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < outer * inner;
       i += (unsigned long long)blockDim.x * gridDim.x) {
    unsigned long long start = (i / inner) * len * inner + i % inner, best = start;
    for (unsigned long long k = 1; k < len; k++) {
      unsigned long long j = start + k * inner;
      if (x[j] > x[best] || (x[best] != x[best] && x[j] == x[j])) best = j;
    }
    values[i] = x[best];
    at[i] = best;
  }
}

template <typename T>
__device__ void gather_axis(const T* x, const unsigned long long* idx, T* y, unsigned long long outer,
                            unsigned long long len, unsigned long long inner, unsigned long long count) {
  for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
       i < outer * count * inner; i += (unsigned long long)blockDim.x * gridDim.x) {
    unsigned long long n = i % inner, j = (i / inner) % count, o = i / (inner * count);
    y[i] = x[(o * len + idx[j]) * inner + n];
  }
}

template <typename T>
__device__ void scatter_axis(const T* g, const unsigned long long* idx, T* dx, unsigned long long outer,
                             unsigned long long len, unsigned long long inner, unsigned long long count) {
  for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
       i < outer * count * inner; i += (unsigned long long)blockDim.x * gridDim.x) {
    unsigned long long n = i % inner, j = (i / inner) % count, o = i / (inner * count);
    atomicAdd(&dx[(o * len + idx[j]) * inner + n], g[i]);
  }
}

template <typename T>
__device__ void avg_pool(const T* x, T* y, const T* g, T* dx, unsigned long long planes,
                         unsigned long long h, unsigned long long w, unsigned long long k,
                         unsigned long long stride, unsigned long long pad, unsigned long long ho,
                         unsigned long long wo) {
  T scale = T(1) / T(k * k);
  for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
       i < planes * ho * wo; i += (unsigned long long)blockDim.x * gridDim.x) {
    unsigned long long ox = i % wo, oy = (i / wo) % ho, plane = i / (ho * wo);
    long long y0 = (long long)(oy * stride) - (long long)pad, x0 = (long long)(ox * stride) - (long long)pad;
    T acc = T(0);
    for (long long iy = y0 < 0 ? 0 : y0; iy < y0 + (long long)k && iy < (long long)h; iy++) {
      for (long long ix = x0 < 0 ? 0 : x0; ix < x0 + (long long)k && ix < (long long)w; ix++) {
        unsigned long long at = (plane * h + (unsigned long long)iy) * w + (unsigned long long)ix;
        if (y) acc += x[at]; else atomicAdd(&dx[at], g[i] * scale);
      }
    }
    if (y) y[i] = acc * scale;
  }
}

__device__ unsigned long long splitmix64(unsigned long long z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

template <typename T>
__device__ void dropout(const T* x, T* y, unsigned long long n, double p, unsigned long long seed,
                        T scale) {
  unsigned long long key = splitmix64(seed ^ 0x243F6A8885A308D3ull);
  for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
       i += (unsigned long long)blockDim.x * gridDim.x) {
    unsigned long long z = splitmix64(key + i * 0x9E3779B97F4A7C15ull);
    double u = (double)(z >> 11) * (1.0 / 9007199254740992.0);
    y[i] = u >= p ? x[i] * scale : T(0);
  }
}

template <typename T>
__device__ void adam(T* w, const T* g, T* m, T* v, unsigned long long n, T lr, T beta1, T beta2,
                     T bias1, T bias2, T eps, T weight_decay, int decoupled) {
  for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
       i += (unsigned long long)blockDim.x * gridDim.x) {
    T grad = decoupled ? g[i] : g[i] + weight_decay * w[i];
    m[i] = beta1 * m[i] + (T(1) - beta1) * grad;
    v[i] = beta2 * v[i] + (T(1) - beta2) * grad * grad;
    T direction = (m[i] / bias1) / (sqrt(v[i] / bias2) + eps);
    w[i] = decoupled ? w[i] - lr * (direction + weight_decay * w[i]) : w[i] - lr * direction;
  }
}
"#;

/// The `extern "C"` entry points of [`SOURCE`] for `ty` (`float`, `double`)
/// with names ending in `suffix` (`f32`, `f64`).
pub fn entry_points(ty: &str, suffix: &str) -> String {
    format!(
        r#"
extern "C" __global__ void adjoint_cross_entropy_{suffix}(const {ty}* x, const unsigned int* labels, {ty}* loss, unsigned long long rows, unsigned long long classes) {{
  cross_entropy_rows<{ty}>(x, labels, loss, rows, classes);
}}
extern "C" __global__ void adjoint_cross_entropy_backward_{suffix}(const {ty}* x, const unsigned int* labels, {ty}* d, {ty} scale, unsigned long long rows, unsigned long long classes) {{
  cross_entropy_backward_rows<{ty}>(x, labels, d, scale, rows, classes);
}}
extern "C" __global__ void adjoint_sum_{suffix}(const {ty}* x, {ty}* partial, unsigned long long n) {{
  block_sums<{ty}>(x, partial, n);
}}
extern "C" __global__ void adjoint_sum_axis_{suffix}(const {ty}* x, {ty}* out, unsigned long long outer, unsigned long long len, unsigned long long inner, {ty} scale) {{
  sum_axis<{ty}>(x, out, outer, len, inner, scale);
}}
extern "C" __global__ void adjoint_softmax_axis_{suffix}(const {ty}* x, {ty}* y, unsigned long long outer, unsigned long long len, unsigned long long inner, int log_domain) {{
  softmax_axis<{ty}>(x, y, outer, len, inner, log_domain);
}}
extern "C" __global__ void adjoint_softmax_axis_backward_{suffix}(const {ty}* y, const {ty}* g, {ty}* dx, unsigned long long outer, unsigned long long len, unsigned long long inner, int log_domain) {{
  softmax_axis_backward<{ty}>(y, g, dx, outer, len, inner, log_domain);
}}
extern "C" __global__ void adjoint_im2col_{suffix}(const {ty}* x, {ty}* cols, unsigned long long c, unsigned long long h, unsigned long long w, unsigned long long kh, unsigned long long kw, unsigned long long stride, unsigned long long pad, unsigned long long ho, unsigned long long wo) {{
  im2col<{ty}>(x, cols, c, h, w, kh, kw, stride, pad, ho, wo);
}}
extern "C" __global__ void adjoint_col2im_{suffix}(const {ty}* cols, {ty}* dx, unsigned long long c, unsigned long long h, unsigned long long w, unsigned long long kh, unsigned long long kw, unsigned long long stride, unsigned long long pad, unsigned long long ho, unsigned long long wo) {{
  col2im<{ty}>(cols, dx, c, h, w, kh, kw, stride, pad, ho, wo);
}}
extern "C" __global__ void adjoint_max_pool_{suffix}(const {ty}* x, {ty}* y, unsigned long long* at, unsigned long long planes, unsigned long long h, unsigned long long w, unsigned long long k, unsigned long long stride, unsigned long long pad, unsigned long long ho, unsigned long long wo) {{
  max_pool<{ty}>(x, y, at, planes, h, w, k, stride, pad, ho, wo);
}}
extern "C" __global__ void adjoint_scatter_add_{suffix}(const {ty}* g, const unsigned long long* at, {ty}* dx, unsigned long long n) {{
  scatter_add<{ty}>(g, at, dx, n);
}}
extern "C" __global__ void adjoint_argmax_axis_{suffix}(const {ty}* x, {ty}* values, unsigned long long* at, unsigned long long outer, unsigned long long len, unsigned long long inner) {{
  argmax_axis<{ty}>(x, values, at, outer, len, inner);
}}
extern "C" __global__ void adjoint_gather_axis_{suffix}(const {ty}* x, const unsigned long long* idx, {ty}* y, unsigned long long outer, unsigned long long len, unsigned long long inner, unsigned long long count) {{
  gather_axis<{ty}>(x, idx, y, outer, len, inner, count);
}}
extern "C" __global__ void adjoint_scatter_axis_{suffix}(const {ty}* g, const unsigned long long* idx, {ty}* dx, unsigned long long outer, unsigned long long len, unsigned long long inner, unsigned long long count) {{
  scatter_axis<{ty}>(g, idx, dx, outer, len, inner, count);
}}
extern "C" __global__ void adjoint_avg_pool_{suffix}(const {ty}* x, {ty}* y, const {ty}* g, {ty}* dx, unsigned long long planes, unsigned long long h, unsigned long long w, unsigned long long k, unsigned long long stride, unsigned long long pad, unsigned long long ho, unsigned long long wo) {{
  avg_pool<{ty}>(x, y, g, dx, planes, h, w, k, stride, pad, ho, wo);
}}
extern "C" __global__ void adjoint_dropout_{suffix}(const {ty}* x, {ty}* y, unsigned long long n, double p, unsigned long long seed, {ty} scale) {{
  dropout<{ty}>(x, y, n, p, seed, scale);
}}
extern "C" __global__ void adjoint_adam_{suffix}({ty}* w, const {ty}* g, {ty}* m, {ty}* v, unsigned long long n, {ty} lr, {ty} beta1, {ty} beta2, {ty} bias1, {ty} bias2, {ty} eps, {ty} weight_decay, int decoupled) {{
  adam<{ty}>(w, g, m, v, n, lr, beta1, beta2, bias1, bias2, eps, weight_decay, decoupled);
}}
"#
    )
}

/// [`SOURCE`] with the entry points of both precisions: the module the
/// runtime compiles.
pub fn module_source() -> String {
    let mut out = String::from(SOURCE);
    out.push_str(&entry_points("float", "f32"));
    out.push_str(&entry_points("double", "f64"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_module_has_every_entry_point_for_both_precisions() {
        let source = module_source();
        for kernel in [
            "cross_entropy",
            "cross_entropy_backward",
            "sum",
            "sum_axis",
            "softmax_axis",
            "softmax_axis_backward",
            "im2col",
            "col2im",
            "max_pool",
            "scatter_add",
            "dropout",
            "argmax_axis",
            "gather_axis",
            "scatter_axis",
            "avg_pool",
            "adam",
        ] {
            for suffix in ["f32", "f64"] {
                let name = format!("adjoint_{kernel}_{suffix}(");
                assert!(source.contains(&name), "{name} missing");
            }
        }
        assert!(!source.contains("#include"));
    }
}
