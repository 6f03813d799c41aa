#!/usr/bin/env python3
"""High-precision references for derive's Gaussian expectations and kernel recursions.

Writes
  tests/data/gauss_reference.csv   activation,deriv,s11,s12,s22,value
      value = E[phi(u)phi(v)] (deriv = 0) or E[phi'(u)phi'(v)] (deriv = 1),
      (u, v) ~ N(0, [[s11, s12], [s12, s22]]), s11, s12, s22 the exact binary64 numbers printed.
  tests/data/kernel_reference.csv  act,depth,sw,sb,x,y,sigma,sigma_dot,theta,sigma_xx,sigma_yy,theta_xx,theta_yy
      NNGP / derivative / NTK kernels (neural-tangents NTK parameterisation, DESIGN.md section 5)
      of two inputs x, y (coordinates separated by ';').

Method (mpmath, 40 significant digits working precision):
  * relu, step, leaky_relu(0.1), abs, erf, gelu, sin, cos: closed forms evaluated in mpmath
    (arc-cosine kernel, orthant probabilities, Williams' erf kernel, e^(-(s11+s22)/2) sinh/cosh, and
    the gelu kernel derived by Gaussian integration by parts).  The gelu forms, being derived here,
    are cross-checked against 2-D quadrature below (printed as "gelu cross-check").
  * tanh, softplus, sigmoid: 2-D trapezoid rule in Cholesky coordinates u = a z1,
    v = b (rho z1 + c z2) on [-13.6, 13.6]^2 (Gaussian tail < 1e-40), with steps chosen from the
    distance of the integrand's complex singularities (tanh: i pi/2, sigmoid/softplus: i pi) so
    that the discretisation error e^(-2 pi d / h) is below 1e-38.  rho = +-1 reduces to 1-D.
Accuracy: every trapezoid value of the subset marked below was recomputed at 50 digits with
45-digit steps; the largest relative difference is printed at the end ("precision check") and was
below 1e-30 when the committed CSV was generated -- far below the 1e-13 the Rust tests demand.

Run: python3 scripts/gauss_reference.py   (needs `pip install mpmath`; takes several minutes)
"""
import os
import sys

from mpmath import mp, mpf

mp.dps = 40
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data")


# ---------------------------------------------------------------- activations (mpmath)
def act_fns(name):
    """(phi, phi', singularity distance of both for the trapezoid step; None = entire)."""
    if name == "tanh":
        return mp.tanh, lambda x: 1 - mp.tanh(x) ** 2, mp.pi / 2
    if name == "sigmoid":
        s = lambda x: 1 / (1 + mp.exp(-x))
        return s, lambda x: s(x) * (1 - s(x)), mp.pi
    if name == "softplus":
        return (lambda x: mp.log(1 + mp.exp(x)) if x < 0 else x + mp.log(1 + mp.exp(-x)),
                lambda x: 1 / (1 + mp.exp(-x)), mp.pi)
    if name == "gelu":
        return (lambda x: x * mp.ncdf(x), lambda x: mp.ncdf(x) + x * mp.npdf(x), None)
    if name == "erf":
        return mp.erf, lambda x: 2 / mp.sqrt(mp.pi) * mp.exp(-x * x), None
    raise ValueError(name)


# ---------------------------------------------------------------- closed forms (mpmath)
def geom(s11, s12, s22):
    det = s11 * s22 - s12 * s12
    if det < 0:  # binary64 rounding put s12 just outside: clamp, as the Rust side does
        det = mpf(0)
        s12 = mp.sign(s12) * mp.sqrt(s11 * s22)
    sq = mp.sqrt(det)
    return s12, det, sq, mp.atan2(sq, s12)


def closed(name, deriv, s11, s12, s22):
    s12, det, sq, th = geom(s11, s12, s22)
    pi = mp.pi
    relu = (sq + (pi - th) * s12) / (2 * pi)

    def leaky(a, b):
        if deriv:
            return ((a * a + b * b) * (pi - th) + 2 * a * b * th) / (2 * pi)
        return (a - b) ** 2 * relu + a * b * s12

    if name == "relu":
        return leaky(0, 1)
    if name == "leaky_relu(0.1)":
        return leaky(mpf("0.1"), 1)
    if name == "abs":
        return leaky(-1, 1)
    if name == "step":
        return mpf(0) if deriv else (pi - th) / (2 * pi)
    if name == "erf":
        p = (1 + 2 * s11) * (1 + 2 * s22)
        if deriv:
            return 4 / pi / mp.sqrt(p - 4 * s12 * s12)
        return 2 / pi * mp.asin(2 * s12 / mp.sqrt(p))
    if name in ("sin", "cos"):
        e = mp.exp(-(s11 + s22) / 2)
        odd = (name == "sin") != bool(deriv)
        return e * (mp.sinh(s12) if odd else mp.cosh(s12))
    if name == "gelu":
        q = (1 + s11) * (1 + s22) - s12 * s12
        ang = mp.asin(s12 / mp.sqrt((1 + s11) * (1 + s22)))
        if deriv:
            return (mpf(1) / 4 + ang / (2 * pi)
                    + s12 * (1 / (1 + s11) + 1 / (1 + s22)) / (2 * pi * mp.sqrt(q))
                    + s12 / (2 * pi * q ** mpf(1.5)))
        return (s12 / 4 + s12 * ang / (2 * pi)
                + (det + s12 ** 2 / (1 + s11) + s12 ** 2 / (1 + s22)) / (2 * pi * mp.sqrt(q)))
    if name == "identity":
        return mpf(1) if deriv else s12
    return None


CLOSED = ["relu", "step", "leaky_relu(0.1)", "abs", "erf", "gelu", "sin", "cos"]
QUAD = ["tanh", "softplus", "sigmoid"]


# ---------------------------------------------------------------- trapezoid quadrature
L = mpf("13.6")


def step_for(d, digits):
    # Entire integrands (d = None) grow like e^(s y^2 / 2) off the real axis; 0.08 keeps the
    # discretisation error below 1e-40 for variances up to 10.
    h = 2 * mp.pi * d / (digits * mp.log(10) + 5) if d is not None else mpf("0.08")
    return min(h, mpf("0.08") if d is None else mpf("0.25"))


def grid(h):
    n = int(L / h) + 1
    zs = [i * h for i in range(-n, n + 1)]
    ws = [h * mp.npdf(z) for z in zs]
    return zs, ws


def expect_smooth(f, g, d, s11, s12, s22, digits=38):
    """E[f(u) g(v)] for analytic f, g whose singularities are at distance >= d from the real axis."""
    s12, det, sq, _ = geom(s11, s12, s22)
    a, b = mp.sqrt(s11), mp.sqrt(s22)
    rho, c = s12 / (a * b), sq / (a * b)
    big = mpf(10) ** 6
    d1 = min(d / a if d else big, d / (b * abs(rho)) if d and rho != 0 else big)
    z1, w1 = grid(step_for(d1 if d1 < big else None, digits))
    if c == 0:
        return mp.fsum(w * f(a * z) * g(b * rho * z) for z, w in zip(z1, w1))
    d2 = d / (b * c) if d else None
    z2, w2 = grid(step_for(d2, digits))
    total = []
    for x, wx in zip(z1, w1):
        base = b * rho * x
        inner = mp.fsum(w * g(base + b * c * y) for y, w in zip(z2, w2))
        total.append(wx * f(a * x) * inner)
    return mp.fsum(total)


def reference(name, deriv, s11, s12, s22, digits=38):
    v = closed(name, deriv, s11, s12, s22)
    if v is not None:
        return v
    f, fd, d = act_fns(name)
    h = fd if deriv else f
    return expect_smooth(h, h, d, s11, s12, s22, digits)


# ---------------------------------------------------------------- the grid
PAIRS = [(1.0, 1.0), (0.1, 10.0), (2.7, 0.5), (10.0, 10.0)]
RHOS = [-1.0, -0.999999, -0.6, -0.1, 0.0, 0.3, 0.8, 0.999999, 1.0]


def main():
    os.makedirs(OUT, exist_ok=True)
    worst_check = mpf(0)
    rows = []
    for name in CLOSED + QUAD:
        for s11, s22 in PAIRS:
            if name in QUAD and s11 == s22 == 10.0:
                continue  # 640k-point 2-D sums at 40 digits: too slow; covered by (0.1, 10)
            for rho in RHOS:
                s12 = rho * (s11 * s22) ** 0.5  # binary64, written exactly below
                for deriv in (0, 1):
                    v = reference(name, deriv, mpf(s11), mpf(s12), mpf(s22))
                    rows.append((name, deriv, s11, s12, s22, v))
                    check = name in QUAD and s11 == 1.0 and rho in (-0.999999, 0.3)
                    if check:
                        with mp.workdps(50):
                            w = reference(name, deriv, mpf(s11), mpf(s12), mpf(s22), digits=45)
                        worst_check = max(worst_check, abs(w - v) / max(abs(w), mpf(10) ** -30))
                print(name, s11, s22, rho, file=sys.stderr, flush=True)
    with open(os.path.join(OUT, "gauss_reference.csv"), "w") as fh:
        fh.write("activation,deriv,s11,s12,s22,value\n")
        for name, deriv, s11, s12, s22, v in rows:
            fh.write(f"{name},{deriv},{s11!r},{s12!r},{s22!r},{mp.nstr(v, 30, strip_zeros=False)}\n")
    print("precision check (trapezoid at 40 vs 50 digits), worst relative difference:",
          mp.nstr(worst_check, 3))

    # gelu cross-check: closed form vs 2-D trapezoid (gelu is entire).
    worst_gelu = mpf(0)
    for s11, s12, s22 in [(1.0, 0.3, 2.0), (2.7, -1.1, 0.5), (0.1, 0.99, 10.0)]:
        for deriv in (0, 1):
            f, fd, _ = act_fns("gelu")
            h = fd if deriv else f
            q = expect_smooth(h, h, None, mpf(s11), mpf(s12), mpf(s22))
            c = closed("gelu", deriv, mpf(s11), mpf(s12), mpf(s22))
            worst_gelu = max(worst_gelu, abs(q - c) / abs(c))
    print("gelu cross-check (closed form vs trapezoid), worst relative difference:",
          mp.nstr(worst_gelu, 3))

    kernel_rows()


# ---------------------------------------------------------------- kernel recursions
def dual(name, s11, s12, s22):
    return (reference(name, 0, s11, s12, s22), reference(name, 1, s11, s12, s22))


def kernels(name, depth, sw, sb, x, y):
    sw2, sb2 = mpf(sw) ** 2, mpf(sb) ** 2
    n0 = len(x)
    xm, ym = [mpf(t) for t in x], [mpf(t) for t in y]
    dot = lambda p, q: mp.fsum(a * b for a, b in zip(p, q))
    sxx = sw2 * dot(xm, xm) / n0 + sb2
    syy = sw2 * dot(ym, ym) / n0 + sb2
    sxy = sw2 * dot(xm, ym) / n0 + sb2
    txx, tyy, txy = sxx, syy, sxy
    sdot = mpf(0)
    for _ in range(depth):
        kxx, dxx = dual(name, sxx, sxx, sxx)
        kyy, dyy = dual(name, syy, syy, syy)
        kxy, dxy = dual(name, sxx, sxy, syy)
        sxx, syy, sxy = sw2 * kxx + sb2, sw2 * kyy + sb2, sw2 * kxy + sb2
        txx, tyy, txy = txx * sw2 * dxx + sxx, tyy * sw2 * dyy + syy, txy * sw2 * dxy + sxy
        sdot = sw2 * dxy
    return sxy, sdot, txy, sxx, syy, txx, tyy


def kernel_rows():
    cases = []
    # ReLU family on near-parallel inputs: 1 - rho ~ 3e-7.
    x = [1.0, 0.5, -0.25]
    y = [1.0, 0.5 + 7e-4, -0.25 + 3e-4]
    for name in ["relu", "leaky_relu(0.1)", "abs"]:
        cases.append((name, 3, 1.4, 0.1, x, y))
        cases.append((name, 3, 1.0, 0.0, x, y))
    xa = [0.8, -0.3, 1.1]
    ya = [0.2, 0.9, -0.4]
    for name in CLOSED + QUAD:
        cases.append((name, 2, 1.3, 0.2, xa, ya))
    with open(os.path.join(OUT, "kernel_reference.csv"), "w") as fh:
        fh.write("act,depth,sw,sb,x,y,sigma,sigma_dot,theta,sigma_xx,sigma_yy,theta_xx,theta_yy\n")
        for name, depth, sw, sb, x, y in cases:
            vals = kernels(name, depth, sw, sb, x, y)
            xs = ";".join(repr(t) for t in x)
            ys = ";".join(repr(t) for t in y)
            out = ",".join(mp.nstr(v, 30, strip_zeros=False) for v in vals)
            fh.write(f"{name},{depth},{sw!r},{sb!r},{xs},{ys},{out}\n")
            print("kernel", name, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
