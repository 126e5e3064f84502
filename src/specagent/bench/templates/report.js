(function(){
  var box=document.getElementById('filter'), sel=document.getElementById('state'),
      count=document.getElementById('shown'), eps=document.querySelectorAll('details.episode');
  function apply(){
    var q=box.value.trim().toLowerCase(), s=sel.value, n=0;
    eps.forEach(function(d){
      var ok=(!q||d.dataset.search.indexOf(q)>=0)&&
             (!s||(' '+d.dataset.states+' ').indexOf(' '+s+' ')>=0);
      d.classList.toggle('hidden',!ok); if(ok)n++;
    });
    count.textContent=n+' of '+eps.length+' episodes shown';
  }
  box.addEventListener('input',apply); sel.addEventListener('change',apply);
  document.getElementById('open-all').addEventListener('click',function(){
    eps.forEach(function(d){if(!d.classList.contains('hidden'))d.open=true;});});
  document.getElementById('close-all').addEventListener('click',function(){
    eps.forEach(function(d){d.open=false;});});
  apply();
})();
