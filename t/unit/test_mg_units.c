/*
 * test_mg_units.c - sizes, durations, percentages, thresholds.
 */
#include <errno.h>

#include "mg_test.h"
#include "mg_units.h"

static void test_sizes(void **state)
{
    static const struct {
        const char *in;
        int rc;
        uint64_t want;
    } cases[] = {
        {"0", 0, 0},
        {"1", 0, 1},
        {"1048576", 0, 1048576},
        {"512K", 0, 512 * 1024},
        {"512k", 0, 512 * 1024},
        {"16M", 0, 16ULL << 20},
        {"16MB", 0, 16ULL << 20},
        {"16MiB", 0, 16ULL << 20},
        {"2G", 0, 2ULL << 30},
        {"1T", 0, 1ULL << 40},
        {"1.5G", 0, 3ULL << 29},
        {"0.5K", 0, 512},
        {"100b", 0, 100},
        {"9223372036854775807", 0, 9223372036854775807ULL},
        /* hostile */
        {"", -EINVAL, 0},
        {"-1", -EINVAL, 0},
        {"+1", -EINVAL, 0},
        {"12Q", -EINVAL, 0},
        {"M", -EINVAL, 0},
        {" 1M", -EINVAL, 0},
        {"1M ", -EINVAL, 0},
        {"1 M", -EINVAL, 0},
        {"1.", -EINVAL, 0},
        {".5M", -EINVAL, 0},
        {"1.5", -EINVAL, 0},
        {"0x10", -EINVAL, 0},
        {"1e6", -EINVAL, 0},
        {"1.1234567G", -EINVAL, 0},
        {"99999999999999999999G", -ERANGE, 0},
        {"9223372036854775808", -ERANGE, 0},
        {"8589934592G", -ERANGE, 0},
        {"16M\n", -EINVAL, 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 12345;
        int rc = mg_units_parse_size(cases[i].in, &v);
        if (rc != cases[i].rc || (rc == 0 && v != cases[i].want)) {
            fail_msg("size '%s': rc %d v %llu, want rc %d v %llu", cases[i].in,
                     rc, (unsigned long long)v, cases[i].rc,
                     (unsigned long long)cases[i].want);
        }
    }
    assert_int_equal(mg_units_parse_size(NULL, NULL), -EINVAL);
}

static void test_lengths(void **state)
{
    static const struct {
        const char *in;
        int rc;
        uint64_t want;
    } cases[] = {
        {"0", 0, 0},
        {"138", 0, 138},
        {"00012", 0, 12},
        {"9223372036854775807", 0, 9223372036854775807ULL},
        /* hostile: what HTTP does not write, or too large */
        {"", -EINVAL, 0},
        {" 1", -EINVAL, 0},
        {"1 ", -EINVAL, 0},
        {"+1", -EINVAL, 0},
        {"-1", -EINVAL, 0},
        {"1x", -EINVAL, 0},
        {"0x10", -EINVAL, 0},
        {"1,2", -EINVAL, 0},
        {"16M", -EINVAL, 0},
        {"12\n", -EINVAL, 0},
        {"/", -EINVAL, 0},
        {":", -EINVAL, 0},
        {"9223372036854775808", -ERANGE, 0},
        {"18446744073709551616", -ERANGE, 0},
        {"99999999999999999999999", -ERANGE, 0},
    };
    size_t i;
    uint64_t v;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc;

        v = 12345;
        rc = mg_units_parse_length(cases[i].in, &v);
        if (rc != cases[i].rc || (rc == 0 && v != cases[i].want) ||
            (rc != 0 && v != 12345)) {
            fail_msg("length '%s': rc %d v %llu, want rc %d v %llu",
                     cases[i].in, rc, (unsigned long long)v, cases[i].rc,
                     (unsigned long long)cases[i].want);
        }
    }
    assert_int_equal(mg_units_parse_length(NULL, &v), -EINVAL);
    assert_int_equal(mg_units_parse_length("1", NULL), -EINVAL);
}

static void test_durations(void **state)
{
    static const struct {
        const char *in;
        int rc;
        uint64_t want;
    } cases[] = {
        {"100ms", 0, 100000},
        {"10ms", 0, 10000},
        {"1s", 0, 1000000},
        {"5", 0, 5000000},
        {"1.5s", 0, 1500000},
        {"2m", 0, 120000000},
        {"1h", 0, 3600000000ULL},
        {"250us", 0, 250},
        {"0", 0, 0},
        {"", -EINVAL, 0},
        {"-5s", -EINVAL, 0},
        {"5 s", -EINVAL, 0},
        {"5d", -EINVAL, 0},
        {"ms", -EINVAL, 0},
        {"1.2345s", -EINVAL, 0},
        {"99999999999999999999s", -ERANGE, 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 0;
        int rc = mg_units_parse_duration(cases[i].in, &v);
        if (rc != cases[i].rc || (rc == 0 && v != cases[i].want)) {
            fail_msg("duration '%s': rc %d v %llu", cases[i].in, rc,
                     (unsigned long long)v);
        }
    }
}

static void test_percent(void **state)
{
    uint32_t bp = 0;

    (void)state;
    assert_int_equal(mg_units_parse_percent("15%", 0, &bp), 0);
    assert_int_equal(bp, 1500);
    assert_int_equal(mg_units_parse_percent("12.5%", 0, &bp), 0);
    assert_int_equal(bp, 1250);
    assert_int_equal(mg_units_parse_percent("0.25%", 0, &bp), 0);
    assert_int_equal(bp, 25);
    assert_int_equal(mg_units_parse_percent("100%", 0, &bp), 0);
    assert_int_equal(bp, 10000);
    assert_int_equal(mg_units_parse_percent("40", 1, &bp), 0);
    assert_int_equal(bp, 4000);
    assert_int_equal(mg_units_parse_percent("40", 0, &bp), -EINVAL);
    assert_int_equal(mg_units_parse_percent("101%", 0, &bp), -ERANGE);
    assert_int_equal(mg_units_parse_percent("-1%", 0, &bp), -EINVAL);
    assert_int_equal(mg_units_parse_percent("%", 0, &bp), -EINVAL);
    assert_int_equal(mg_units_parse_percent("1.234%", 0, &bp), -EINVAL);
    assert_int_equal(mg_units_parse_percent("5%%", 0, &bp), -EINVAL);
}

static void test_threshold(void **state)
{
    mg_threshold_t t;

    (void)state;
    assert_int_equal(mg_units_parse_threshold("10%", &t), 0);
    assert_true(t.is_percent);
    assert_int_equal(mg_units_threshold_bytes(&t, 1000000), 100000);
    assert_int_equal(mg_units_threshold_bytes(&t, 7), 0);
    assert_int_equal(mg_units_parse_threshold("512M", &t), 0);
    assert_false(t.is_percent);
    assert_int_equal(mg_units_threshold_bytes(&t, 1), 512ULL << 20);
    assert_int_equal(mg_units_parse_threshold("", &t), -EINVAL);
    assert_int_equal(mg_units_parse_threshold("110%", &t), -ERANGE);
    assert_int_equal(mg_units_parse_threshold("12Q", &t), -EINVAL);
    /* 50% of the largest total does not overflow */
    assert_int_equal(mg_units_parse_threshold("50%", &t), 0);
    assert_int_equal(mg_units_threshold_bytes(&t, 9223372036854775806ULL),
                     4611686018427387903ULL);
}

static void test_format(void **state)
{
    char buf[16];

    (void)state;
    assert_string_equal(mg_units_format_size(0, buf, sizeof(buf)), "0 B");
    assert_string_equal(mg_units_format_size(1023, buf, sizeof(buf)), "1023 B");
    assert_string_equal(mg_units_format_size(1536, buf, sizeof(buf)),
                        "1.5 KiB");
    assert_string_equal(mg_units_format_size(10ULL << 20, buf, sizeof(buf)),
                        "10.0 MiB");
    assert_string_equal(mg_units_format_size(UINT64_MAX, buf, sizeof(buf)),
                        "16.0 EiB");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),     cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_durations), cmocka_unit_test(test_percent),
        cmocka_unit_test(test_threshold), cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
