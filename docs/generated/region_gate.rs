// The fused region `tanh(x0 / x1) * sigmoid(x2 + x3)` as the Rust printer writes it (regenerate: UPDATE_SNAPSHOTS=1 cargo test -p adjoint-macros region).
fn forward(__x0: f32, __x1: f32, __x2: f32, __x3: f32) -> f32 {
    let __s0: f32 = __x0 / __x1;
    let __s1: f32 = ::adjoint::__private::tanh(__s0);
    let __s2: f32 = __x2 + __x3;
    let __s3: f32 = ::adjoint::__private::sigmoid(__s2);
    __s1 * __s3
}
fn adjoint(__x0: f32, __x1: f32, __x2: f32, __x3: f32, __y: f32, __g: f32) -> [f32; 4] {
    let __s0: f32 = __x0 / __x1;
    let __s1: f32 = ::adjoint::__private::tanh(__s0);
    let __s2: f32 = __x2 + __x3;
    let __s3: f32 = ::adjoint::__private::sigmoid(__s2);
    let __a3: f32 = __g * __s1;
    let __a2: f32 = __a3 * __s3 * (1.0 - __s3);
    let __a1: f32 = __g * __s3;
    let __a0: f32 = __a1 * (1.0 - __s1 * __s1);
    [__a0 / __x1, -(__a0 * __s0 / __x1), 0.0, __a2]
}
fn tangent(
    __x0: f32,
    __x1: f32,
    __x2: f32,
    __x3: f32,
    __t0: f32,
    __t2: f32,
    __t3: f32,
) -> f32 {
    let __s0: f32 = __x0 / __x1;
    let __d0: f32 = __t0 / __x1;
    let __s1: f32 = ::adjoint::__private::tanh(__s0);
    let __d1: f32 = __d0 * (1.0 - __s1 * __s1);
    let __s2: f32 = __x2 + __x3;
    let __d2: f32 = __t2 + __t3;
    let __s3: f32 = ::adjoint::__private::sigmoid(__s2);
    let __d3: f32 = __d2 * __s3 * (1.0 - __s3);
    let __d4: f32 = __d1 * __s3 + __d3 * __s1;
    __d4
}
