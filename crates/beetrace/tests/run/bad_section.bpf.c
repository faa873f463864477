/* A program in a section no loader knows. */
#include "common.h"

SEC("nonsense/whatever")
int lost_program(void *ctx)
{
	return 0;
}
