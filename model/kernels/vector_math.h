// Sigmoid and tanh over SIMD registers, for the fused gate kernels
// (fused_gates.h). The same rational approximations as Eigen 3.4's float
// logistic and tanh (a few ulps; exp below -9 for the logistic), so the fused
// path and the Eigen path of the cells agree to float rounding.
//
// Every function is a template over a register type V that each
// per-instruction-set file defines in an anonymous namespace, so each
// instantiation is local to that file and compiled for its instruction set
// only (see gemm_kernels.h). V provides: Reg, Mask, Set1, Add, Sub, Mul, Div,
// Fmadd(a, b, c) = a * b + c, Min, Max, Abs, Less(a, b) -> Mask, Any(Mask),
// Select(Mask, if_set, if_clear), Floor, Pow2(Reg holding whole numbers in
// [-126, 127]) -> 2^x.
#ifndef RNNSERVE_MODEL_KERNELS_VECTOR_MATH_H_
#define RNNSERVE_MODEL_KERNELS_VECTOR_MATH_H_

namespace rnnserve::model::internal {

// exp(x) for x in [-87, 88] (callers clamp): Cephes' polynomial, as Eigen's
// pexp_float, with 2^m built from the exponent bits.
template <typename V>
typename V::Reg Exp(typename V::Reg x) {
  using R = typename V::Reg;
  const R m = V::Floor(V::Fmadd(x, V::Set1(1.44269504088896341f), V::Set1(0.5f)));
  R r = V::Fmadd(m, V::Set1(-0.693359375f), x);
  r = V::Fmadd(m, V::Set1(2.12194440e-4f), r);
  const R r2 = V::Mul(r, r);
  const R r3 = V::Mul(r2, r);
  R y = V::Fmadd(V::Set1(1.9875691500e-4f), r, V::Set1(1.3981999507e-3f));
  R y1 = V::Fmadd(V::Set1(4.1665795894e-2f), r, V::Set1(1.6666665459e-1f));
  const R y2 = V::Add(r, V::Set1(1.0f));
  y = V::Fmadd(y, r, V::Set1(8.3334519073e-3f));
  y1 = V::Fmadd(y1, r, V::Set1(5.0000001201e-1f));
  y = V::Fmadd(y, r3, y1);
  y = V::Fmadd(y, r2, y2);
  return V::Mul(y, V::Pow2(m));
}

// 1 / (1 + exp(-x)): Eigen's 9/10-degree rational for the shifted logistic,
// exp(x) below -9 where the rational loses relative accuracy.
template <typename V>
typename V::Reg Sigmoid(typename V::Reg x) {
  using R = typename V::Reg;
  // The smallest x where the rational reaches 1 (Eigen, FMA build).
  const R xc = V::Min(x, V::Set1(15.7243833541870117f));
  const R x2 = V::Mul(xc, xc);
  R p = V::Fmadd(x2, V::Set1(4.37031012579801e-11f), V::Set1(1.15627324459942e-07f));
  p = V::Fmadd(x2, p, V::Set1(6.08574864600143e-05f));
  p = V::Fmadd(x2, p, V::Set1(8.51377133304701e-03f));
  p = V::Fmadd(x2, p, V::Set1(2.48287947061529e-01f));
  p = V::Mul(xc, p);
  R q = V::Fmadd(x2, V::Set1(6.10247389755681e-13f), V::Set1(5.76102136993427e-09f));
  q = V::Fmadd(x2, q, V::Set1(6.29106785017040e-06f));
  q = V::Fmadd(x2, q, V::Set1(1.70198817374094e-03f));
  q = V::Fmadd(x2, q, V::Set1(1.16817656904453e-01f));
  q = V::Fmadd(x2, q, V::Set1(9.93151921023180e-01f));
  const R logistic = V::Add(V::Div(p, q), V::Set1(0.5f));
  const typename V::Mask small = V::Less(x, V::Set1(-9.0f));
  if (!V::Any(small)) return logistic;
  // Below -87 the logistic is under 2^-125: exp(-87) is as good as exact.
  return V::Select(small, Exp<V>(V::Max(x, V::Set1(-87.0f))), logistic);
}

// Eigen's 13/6-degree rational tanh, clamped where it reaches +-1, and x
// itself near 0 where that is the better approximation.
template <typename V>
typename V::Reg Tanh(typename V::Reg x) {
  using R = typename V::Reg;
  const R limit = V::Set1(7.99881172180175781f);
  const R xc = V::Max(V::Min(x, limit), V::Sub(V::Set1(0.0f), limit));
  const R x2 = V::Mul(xc, xc);
  R p = V::Fmadd(x2, V::Set1(-2.76076847742355e-16f), V::Set1(2.00018790482477e-13f));
  p = V::Fmadd(x2, p, V::Set1(-8.60467152213735e-11f));
  p = V::Fmadd(x2, p, V::Set1(5.12229709037114e-08f));
  p = V::Fmadd(x2, p, V::Set1(1.48572235717979e-05f));
  p = V::Fmadd(x2, p, V::Set1(6.37261928875436e-04f));
  p = V::Fmadd(x2, p, V::Set1(4.89352455891786e-03f));
  p = V::Mul(xc, p);
  R q = V::Fmadd(x2, V::Set1(1.19825839466702e-06f), V::Set1(1.18534705686654e-04f));
  q = V::Fmadd(x2, q, V::Set1(2.26843463243900e-03f));
  q = V::Fmadd(x2, q, V::Set1(4.89352518554385e-03f));
  return V::Select(V::Less(V::Abs(x), V::Set1(0.0004f)), xc, V::Div(p, q));
}

}  // namespace rnnserve::model::internal

#endif  // RNNSERVE_MODEL_KERNELS_VECTOR_MATH_H_
