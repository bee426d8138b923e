// Accessibility fixes to the theme's and docutils' HTML, checked by axe-core in
// tests/test_site_in_browser.py (see there for the rules).
document.addEventListener("DOMContentLoaded", () => {
  // The primary sidebar holds the logo (the link home), the search button and the table of
  // contents; only the last is inside a landmark, so screen-reader users skipping by landmark miss
  // the rest (axe rule "region"). The whole sidebar is the course's navigation.
  const sidebar = document.querySelector(".bd-sidebar-primary");
  if (sidebar && !sidebar.hasAttribute("role")) {
    sidebar.setAttribute("role", "navigation");
    sidebar.setAttribute("aria-label", "Course");
  }
  // docutils marks a bibliography role="list" but its entries role="doc-biblioentry", a role that
  // ARIA 1.3 deprecates and that is not a list item (axe rule "aria-required-children", critical).
  document.querySelectorAll('[role="list"] > [role="doc-biblioentry"]').forEach((entry) => {
    entry.setAttribute("role", "listitem");
  });
});
