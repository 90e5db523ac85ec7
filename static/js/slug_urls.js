// Support admin, "Add company": the portal and SCIM URLs under the slug field follow what is
// typed. Without JavaScript they show "<slug>", which is still the right shape.
document.addEventListener("input", (event) => {
  if (event.target.id !== "id_slug") return;
  const slug = event.target.value.trim() || "<slug>";
  for (const echo of document.querySelectorAll(".slug-echo")) echo.textContent = slug;
});
