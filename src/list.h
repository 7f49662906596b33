/*
 * list.h - a circular doubly linked list with the node embedded in its
 * owner, the shape the zbud design is written in.  Not thread-safe: the
 * owner's lock covers it.
 */
#ifndef ZS_LIST_H
#define ZS_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct zs_list {
	struct zs_list *next, *prev;
};

#define zs_container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

static inline void zs_list_init(struct zs_list *l)
{
	l->next = l->prev = l;
}

static inline bool zs_list_empty(const struct zs_list *l)
{
	return l->next == l;
}

/* Insert `n` right after `head`: the new head of the list. */
static inline void zs_list_add(struct zs_list *n, struct zs_list *head)
{
	n->next = head->next;
	n->prev = head;
	head->next->prev = n;
	head->next = n;
}

/* Unlink `n` and leave it as an empty list, so unlinking twice is harmless. */
static inline void zs_list_del(struct zs_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	zs_list_init(n);
}

#define zs_list_for_each(pos, head) \
	for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)

#endif
