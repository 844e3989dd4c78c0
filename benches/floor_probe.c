/* What the portfolio pass costs when written by hand: a timing probe, not the engine.
 *
 * Built and run by benches/bench_floor_probe.py, which exports the benchmark's book and
 * instrument data into a directory and compares these loops with the engine and the
 * machine's floor in one run. One thread, 35 scenarios padded to 40 (five AVX-512
 * registers), two portfolios (BTC and ETH), no fused multiply-adds (-ffp-contract=off), so
 * each loop does the engine's arithmetic. Variants:
 *
 *   bare    each account's worst-case loss only: the rows of one portfolio accumulated
 *           in registers, written back when the next row belongs to the other, then the
 *           minimum of each portfolio's row (the "plain C loop").
 *   masked  the same with both portfolios' accumulators in registers all the time and a
 *           masked add per row instead of the branch between portfolios.
 *   full    the per-account work of the portfolio model (docs/margin-model.md §6) on the
 *           same book: mark, Greeks, roll-bucket net deltas (first-touch list appended
 *           without a branch, as the engine does), short-option minimum, the P&L of the
 *           rows and the linked collateral, the dampened worst loss and its first scenario,
 *           IM and MM, free collateral and margin ratio, finiteness, and every output
 *           written. Input checks and the risk arrays are left out.
 *
 * Prints the best of `repeat` passes in seconds and a checksum of the worst-case losses.
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define W 40 /* scenarios per risk row, padded */
#define V (W / 8)
#define G 2  /* portfolios */
#define MAX_BUCKETS 64

typedef struct {
    double mtm, greeks[4], som;
    int64_t group, bucket;
} Unit;

static void *load(const char *dir, const char *name, size_t *count, size_t size) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.bin", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    size_t bytes = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!buf || fread(buf, 1, bytes, f) != bytes) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    *count = bytes / size;
    return buf;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* max(x, 0) inline: libm's fmax is a call per use. */
static inline double positive(double x) { return x > 0.0 ? x : 0.0; }

static double low(const __m512d *acc, const double *damp) {
    __m512d m = _mm512_setzero_pd();
    for (int v = 0; v < V; v++) {
        __m512d x = damp ? _mm512_add_pd(acc[v], _mm512_loadu_pd(damp + 8 * v)) : acc[v];
        m = _mm512_min_pd(x, m);
    }
    return _mm512_reduce_min_pd(m);
}

struct Book {
    size_t n_accounts, n_assets;
    const int64_t *offsets, *instrument;
    const double *quantity, *balances, *risk;
    const Unit *units;
    const double *damp;     /* G x W */
    const double *held;     /* n_assets x W, zero rows for unlinked assets */
    const double *borrowed; /* n_assets x W */
    const int64_t *link;    /* per asset: portfolio or -1 */
    const double *value;    /* per asset: price; haircut in value[n_assets + j] */
    const double *rate;     /* per roll bucket */
};

static void bare(const struct Book *b, double *wcl_out) {
    for (size_t a = 0; a < b->n_accounts; a++) {
        __m512d pnl[G][V], acc[V];
        int touched[G] = {0, 0};
        int64_t at = -1;
        for (int64_t k = b->offsets[a]; k < b->offsets[a + 1]; k++) {
            int64_t i = b->instrument[k], g = b->units[i].group;
            if (g != at) {
                if (at >= 0) memcpy(pnl[at], acc, sizeof acc);
                for (int v = 0; v < V; v++) acc[v] = touched[g] ? pnl[g][v] : _mm512_set1_pd(-0.0);
                touched[g] = 1;
                at = g;
            }
            __m512d q = _mm512_set1_pd(b->quantity[k]);
            const double *r = b->risk + i * W;
            for (int v = 0; v < V; v++)
                acc[v] = _mm512_add_pd(acc[v], _mm512_mul_pd(q, _mm512_load_pd(r + 8 * v)));
        }
        if (at >= 0) memcpy(pnl[at], acc, sizeof acc);
        double wcl = 0.0;
        for (int g = 0; g < G; g++)
            if (touched[g]) wcl += positive(-low(pnl[g], NULL));
        wcl_out[a] = wcl;
    }
}

static void masked(const struct Book *b, double *wcl_out) {
    for (size_t a = 0; a < b->n_accounts; a++) {
        __m512d acc[G][V];
        for (int g = 0; g < G; g++)
            for (int v = 0; v < V; v++) acc[g][v] = _mm512_set1_pd(-0.0);
        int touched[G] = {0, 0};
        for (int64_t k = b->offsets[a]; k < b->offsets[a + 1]; k++) {
            int64_t i = b->instrument[k], g = b->units[i].group;
            touched[g] = 1;
            __m512d q = _mm512_set1_pd(b->quantity[k]);
            const double *r = b->risk + i * W;
            for (int v = 0; v < V; v++) {
                __m512d p = _mm512_mul_pd(q, _mm512_load_pd(r + 8 * v));
                for (int h = 0; h < G; h++)
                    acc[h][v] = _mm512_mask_add_pd(acc[h][v], h == g ? 0xff : 0, acc[h][v], p);
            }
        }
        double wcl = 0.0;
        for (int g = 0; g < G; g++)
            if (touched[g]) wcl += positive(-low(acc[g], NULL));
        wcl_out[a] = wcl;
    }
}

/* Output columns, as the engine writes them. */
struct Out {
    double *field[8];
    double *greeks[4]; /* n_accounts x G */
    int64_t *worst;
};

static int full(const struct Book *b, struct Out *o) {
    int finite = 1;
    size_t n_j = b->n_assets;
    double delta[MAX_BUCKETS] = {0};
    unsigned char seen[MAX_BUCKETS] = {0};
    int64_t list[MAX_BUCKETS + 1];
    for (size_t a = 0; a < b->n_accounts; a++) {
        const double *bal = b->balances + a * n_j;
        double equity = 0.0;
        for (size_t j = 0; j < n_j; j++) {
            double x = bal[j] * b->value[j];
            equity += bal[j] > 0.0 ? x * (1.0 - b->value[n_j + j]) : x;
        }
        __m512d pnl[G][V], acc[V];
        double greeks[G][4] = {{0}};
        int touched[G] = {0, 0};
        int64_t at = -1, n_b = 0;
        double som = 0.0;
        for (int64_t k = b->offsets[a]; k < b->offsets[a + 1]; k++) {
            int64_t i = b->instrument[k];
            const Unit *u = &b->units[i];
            double q = b->quantity[k];
            int64_t g = u->group;
            if (g != at) {
                if (at >= 0) memcpy(pnl[at], acc, sizeof acc);
                for (int v = 0; v < V; v++) acc[v] = touched[g] ? pnl[g][v] : _mm512_set1_pd(-0.0);
                touched[g] = 1;
                at = g;
            }
            equity += q * u->mtm;
            for (int x = 0; x < 4; x++) greeks[g][x] += q * u->greeks[x];
            list[n_b] = u->bucket;
            n_b += !seen[u->bucket];
            seen[u->bucket] = 1;
            delta[u->bucket] += q * u->greeks[0];
            som += positive(-q) * u->som;
            __m512d qv = _mm512_set1_pd(q);
            const double *r = b->risk + i * W;
            for (int v = 0; v < V; v++)
                acc[v] = _mm512_add_pd(acc[v], _mm512_mul_pd(qv, _mm512_load_pd(r + 8 * v)));
        }
        if (at >= 0) memcpy(pnl[at], acc, sizeof acc);
        for (size_t j = 0; j < n_j; j++) {
            int64_t g = b->link[j];
            if (g < 0 || bal[j] == 0.0) continue;
            const double *row = (bal[j] > 0.0 ? b->held : b->borrowed) + j * W;
            if (!touched[g]) {
                touched[g] = 1;
                for (int v = 0; v < V; v++) pnl[g][v] = _mm512_setzero_pd();
            }
            __m512d x = _mm512_set1_pd(bal[j]);
            for (int v = 0; v < V; v++)
                pnl[g][v] = _mm512_add_pd(pnl[g][v], _mm512_mul_pd(x, _mm512_load_pd(row + 8 * v)));
        }
        double wcl = 0.0, top = 0.0;
        int top_g = -1;
        for (int g = 0; g < G; g++) {
            if (!touched[g]) continue;
            double loss = positive(-low(pnl[g], b->damp + g * W));
            wcl += loss;
            if (loss > top) top = loss, top_g = g;
        }
        int64_t worst = -1;
        if (top_g >= 0) {
            __m512d t = _mm512_set1_pd(-top);
            uint64_t mask = 0;
            for (int v = 0; v < V; v++) {
                __m512d x = _mm512_add_pd(pnl[top_g][v], _mm512_loadu_pd(b->damp + top_g * W + 8 * v));
                mask |= (uint64_t)_mm512_cmp_pd_mask(x, t, _CMP_EQ_OQ) << (8 * v);
            }
            worst = __builtin_ctzll(mask);
        }
        double roll = 0.0;
        for (int64_t x = 0; x < n_b; x++) {
            int64_t bk = list[x];
            roll += b->rate[bk] * fabs(delta[bk]);
            delta[bk] = 0.0;
            seen[bk] = 0;
        }
        double base = wcl + roll + som, im = base, mm = 0.8 * base;
        double f[8] = {equity, im, mm, equity - im, equity > 0.0 ? mm / equity : INFINITY, wcl, roll, som};
        int ok = 1;
        for (int x = 0; x < 8; x++) ok &= x == 4 ? !isnan(f[x]) && f[x] != -INFINITY : isfinite(f[x]);
        for (int g = 0; g < G; g++)
            for (int x = 0; x < 4; x++) ok &= isfinite(greeks[g][x]);
        finite &= ok;
        for (int x = 0; x < 8; x++) o->field[x][a] = f[x];
        o->worst[a] = worst;
        for (int x = 0; x < 4; x++)
            for (int g = 0; g < G; g++) o->greeks[x][a * G + g] = greeks[g][x];
    }
    return finite;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s DIR bare|masked|full REPEAT\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1], *variant = argv[2];
    int repeat = atoi(argv[3]);
    size_t n, n_assets;
    struct Book b;
    b.offsets = load(dir, "offsets", &n, 8);
    b.n_accounts = n - 1;
    b.instrument = load(dir, "instrument", &n, 8);
    b.quantity = load(dir, "quantity", &n, 8);
    b.risk = load(dir, "risk", &n, 8);
    b.units = load(dir, "units", &n, sizeof(Unit));
    b.damp = load(dir, "damp", &n, 8);
    b.link = load(dir, "link", &n_assets, 8);
    b.n_assets = n_assets;
    b.balances = load(dir, "balances", &n, 8);
    b.held = load(dir, "held", &n, 8);
    b.borrowed = load(dir, "borrowed", &n, 8);
    b.value = load(dir, "value", &n, 8);
    b.rate = load(dir, "rate", &n, 8);
    if (n > MAX_BUCKETS) {
        fprintf(stderr, "more than %d roll buckets\n", MAX_BUCKETS);
        return 2;
    }
    struct Out o;
    for (int x = 0; x < 8; x++) o.field[x] = aligned_alloc(64, b.n_accounts * 8);
    for (int x = 0; x < 4; x++) o.greeks[x] = aligned_alloc(64, b.n_accounts * G * 8);
    o.worst = aligned_alloc(64, b.n_accounts * 8);
    double best = INFINITY;
    int finite = 1;
    for (int r = 0; r < repeat; r++) {
        double t = now();
        if (!strcmp(variant, "bare"))
            bare(&b, o.field[5]);
        else if (!strcmp(variant, "masked"))
            masked(&b, o.field[5]);
        else if (!strcmp(variant, "full"))
            finite &= full(&b, &o);
        else {
            fprintf(stderr, "unknown variant %s\n", variant);
            return 2;
        }
        t = now() - t;
        best = t < best ? t : best;
    }
    double sum = 0.0;
    for (size_t a = 0; a < b.n_accounts; a++) sum += o.field[5][a];
    printf("%.9f %.17g %d\n", best, sum, finite);
    return 0;
}
